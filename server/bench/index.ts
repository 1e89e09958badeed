/**
 * `npm run bench`: runs every `server/bench/*.bench.ts` (each exports `run()` returning figures),
 * prints each part's report, and ends with one JSON object of all figures as its last line.
 * A part that cannot run prints why and leaves its keys out (no number is ever made up), and the run
 * exits non-zero, so a missing figure is never mistaken for a passing one.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

type Figures = Record<string, number>;

async function main() {
  const dir = __dirname;
  const only = process.argv.slice(2);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".bench.ts"))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort();
  const all: Figures = {};
  for (const file of files) {
    const started = Date.now();
    try {
      const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { run: () => Promise<Figures> };
      const figures = await mod.run();
      console.error(`bench ${file}: ${JSON.stringify(figures)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      Object.assign(all, figures);
    } catch (err) {
      console.error(`bench ${file} could not run:`, err instanceof Error ? err.message : err);
      process.exitCode = 1;
    }
  }
  console.log(JSON.stringify(all));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
