/**
 * The e2e server's operators (playwright.config.ts hands them to it as ROTOR_OPERATORS, hashed), and
 * where the setup project keeps each one's signed-in browser state.
 */
export const E2E_USERS = {
  alice: { role: "operator", password: "alice-e2e-password" },
  bob: { role: "operator", password: "bob-e2e-password" },
  vera: { role: "viewer", password: "vera-e2e-password" },
  amy: { role: "admin", password: "amy-e2e-password" },
} as const;

export type E2EUser = keyof typeof E2E_USERS;

export const stateFile = (name: E2EUser) => `e2e/.artifacts/${name}.json`;

/** No cookies at all: contexts otherwise inherit the project's storageState (alice). */
export const signedOut = { cookies: [], origins: [] };
