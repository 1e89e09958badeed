/**
 * Whether the dashboard's production build (`.next`) is missing or older than its sources: `npm start`
 * builds before it starts, and so do the e2e configs that run `next start` themselves.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** True when `${root}/.next/BUILD_ID` is missing or a source or build config changed after it. */
export function needsBuild(root: string): boolean {
  const buildId = path.join(root, ".next", "BUILD_ID");
  if (!existsSync(buildId)) return true;
  const built = statSync(buildId).mtimeMs;
  const sources = ["app", "components", "lib", "server", "public"].map((d) => newestMtime(path.join(root, d)));
  const configs = ["next.config.ts", "package-lock.json", "postcss.config.mjs"].map((f) => (existsSync(path.join(root, f)) ? statSync(path.join(root, f)).mtimeMs : 0));
  return Math.max(...sources, ...configs) > built;
}
