import { expect, test as setup } from "@playwright/test";
import { E2E_USERS, stateFile, type E2EUser } from "./users";

// Sign in through the API (never by typing) and keep each operator's session cookie for the specs.
for (const name of Object.keys(E2E_USERS) as E2EUser[]) {
  setup(`sign in as ${name}`, async ({ request }) => {
    const res = await request.post("/api/auth/sign-in", { data: { name, password: E2E_USERS[name].password } });
    expect(res.status(), await res.text()).toBe(200);
    expect((await res.json()) as unknown).toMatchObject({ ok: true, operator: { name, role: E2E_USERS[name].role } });
    await request.storageState({ path: stateFile(name) });
  });
}
