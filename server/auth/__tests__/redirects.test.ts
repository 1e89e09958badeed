/**
 * Where the browser goes after signing in: only a path on this dashboard. The candidate is parsed
 * as a browser would (`new URL(next, origin)` drops tabs and newlines, reads backslashes as
 * slashes), so `/%09/evil.example/` (a tab once decoded) is `//evil.example/`, another site.
 */
import { isValidElement, type ReactElement, type ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { safeReturnPath } from "../http";
import { tempEnv, type TempEnv } from "./helpers";

const nav = vi.hoisted(() => ({ redirected: [] as string[] }));
vi.mock("next/navigation", () => ({
  redirect: (to: string) => {
    nav.redirected.push(to);
    throw new Error("NEXT_REDIRECT");
  },
}));
vi.mock("next/headers", () => ({
  headers: async () => new Headers({ "x-rotor-peer": "127.0.0.1" }),
  cookies: async () => ({ get: () => undefined, set: () => undefined, delete: () => undefined }),
}));
const { signInAction } = await import("@/app/sign-in/actions");
const { default: SignInPage } = await import("@/app/sign-in/page");

describe("safeReturnPath", () => {
  it("keeps paths on this dashboard", () => {
    for (const p of ["/", "/rollouts/r-1", "/audit?actor=alice&kind=access", "/lb/web#instances"]) expect(safeReturnPath(p)).toBe(p);
  });

  it("sends anything that leaves the origin, or is not text, to /", () => {
    for (const p of [
      "/\t/evil.example/",
      "/\n/evil.example/",
      "//evil.example/",
      "/\\evil.example/",
      "\\\\evil.example",
      "https://evil.example/",
      "javascript:alert(1)",
      "http://rotor.invalid@evil.example/",
      " //evil.example",
      "/\u0000x",
      "",
      "x".repeat(2001),
    ])
      expect(safeReturnPath(p), JSON.stringify(p)).toBe("/");
    for (const v of [null, undefined, 3, ["/a"]]) expect(safeReturnPath(v)).toBe("/");
  });

  it("answers the parsed path, so what is checked is what the browser follows", () => {
    expect(safeReturnPath("/a/../b?x=1")).toBe("/b?x=1");
    expect(safeReturnPath("/%09/evil.example/")).toBe("/%09/evil.example/");
  });
});

describe("the sign-in page and action", () => {
  let env: TempEnv;
  beforeEach(async () => {
    env = await tempEnv([{ name: "alice", role: "operator", password: "alice-password" }]);
    nav.redirected = [];
  });
  afterEach(() => env.cleanup());

  async function signInWith(next: string) {
    const form = new FormData();
    form.set("name", "alice");
    form.set("password", "alice-password");
    form.set("next", next);
    await expect(signInAction(null, form)).rejects.toThrow("NEXT_REDIRECT");
    return nav.redirected.at(-1);
  }

  it("after signing in with next=/%09/evil.example/ (decoded: a tab), lands on / of this dashboard", async () => {
    expect(await signInWith("/\t/evil.example/")).toBe("/");
    expect(await signInWith("/rollouts/r-9")).toBe("/rollouts/r-9");
  });

  function formProps(node: ReactNode): { next?: string } | null {
    if (!isValidElement(node)) return null;
    const el = node as ReactElement<{ next?: string; children?: ReactNode }>;
    if (typeof el.props.next === "string") return el.props;
    const kids = el.props.children;
    for (const k of Array.isArray(kids) ? kids : [kids]) {
      const found = formProps(k);
      if (found) return found;
    }
    return null;
  }

  it("renders (no 500) with control characters in next, and hands the form / instead", async () => {
    for (const next of ["/\t/evil.example/", "/\u0000\r\n", "/ok\u007f"]) {
      const page = await SignInPage({ searchParams: Promise.resolve({ next }) });
      expect(formProps(page)?.next).toBe("/");
    }
    const fine = await SignInPage({ searchParams: Promise.resolve({ next: "/audit" }) });
    expect(formProps(fine)?.next).toBe("/audit");
  });
});
