export * from "./rollout";
export * from "./errors";
export * from "./version";
