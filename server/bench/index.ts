/**
 * `npm run bench`: runs every `server/bench/*.bench.ts` (each exports `run()` returning figures),
 * prints each part's report, and ends with one JSON object of all figures as its last line.
 * A part that cannot run leaves its keys out (no number is ever made up) and says so loudly: its
 * error on stderr, its name in the summary line before the JSON, and the command exits 1.
 *
 * Runs as production does (NODE_ENV=production unless set): libraries such as immer ship a slower
 * development build that would distort the figures.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

// Before any part is loaded (parts are imported one by one below).
(process.env as Record<string, string | undefined>).NODE_ENV ??= "production";

type Figures = Record<string, number>;

async function main() {
  const dir = __dirname;
  const only = process.argv.slice(2);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".bench.ts"))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort();
  const all: Figures = {};
  const failed: string[] = [];
  for (const file of files) {
    const started = Date.now();
    try {
      const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { run: () => Promise<Figures> };
      const figures = await mod.run();
      console.error(`bench ${file}: ${JSON.stringify(figures)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      Object.assign(all, figures);
    } catch (err) {
      failed.push(file);
      console.error(`bench ${file} FAILED after ${((Date.now() - started) / 1000).toFixed(1)} s:`, err);
    }
  }
  if (failed.length > 0) {
    console.error(`bench: ${failed.length} of ${files.length} parts FAILED (${failed.join(", ")}); their figures are missing below`);
    process.exitCode = 1;
  }
  console.log(JSON.stringify(all));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
