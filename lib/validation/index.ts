export * from "./rollout";
export * from "./errors";
