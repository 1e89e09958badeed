/** Making an API token the way an admin does: the Tokens page's form, the secret read from the field that shows it once. */
import { expect, type Page } from "@playwright/test";

export async function createTokenOnPage(admin: Page, name: string, role: "viewer" | "operator" | "admin"): Promise<string> {
  await admin.goto("/settings/tokens");
  const form = admin.getByRole("form", { name: "Create an API token" });
  await form.getByLabel("Name", { exact: true }).fill(name);
  await form.getByLabel("Role", { exact: true }).selectOption(role);
  await form.getByRole("button", { name: "Create token" }).click();
  const shown = form.getByLabel(`Token for ${name} (shown once)`);
  await expect(shown).not.toHaveValue("");
  return shown.inputValue();
}
