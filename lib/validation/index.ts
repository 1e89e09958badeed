export * from "./rollout";
export * from "./errors";
export * from "./version";
export * from "./freeze";
