import { describe, expect, it } from "vitest";
import { apacheSettings, checkApacheInstalled } from "./instances";

describe("the Apache fleet's start-up check", () => {
  it("stops with one sentence saying what to install when Apache or mod_perl is missing", async () => {
    const missing = apacheSettings({ ROTOR_APACHE_BIN: "/nonexistent/apache2", ROTOR_APACHE_MODULES: "/nonexistent/modules" }, 30_000);
    await expect(checkApacheInstalled(missing)).rejects.toThrow(/^ROTOR_FLEET_SERVER=apache needs Apache httpd 2\.4 with mod_perl \(missing [^)]+\): apt-get install apache2 libapache2-mod-perl2$/);
  });

  it("passes on this machine (CI installs Apache; a missing one fails here, not a skip)", async () => {
    await expect(checkApacheInstalled(apacheSettings({}, 30_000))).resolves.toBeUndefined();
  });
});
