#!/usr/bin/env node
// The `electra` command: runs the compiled CLI (npm run build:ts writes dist/).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const main = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "main.js");
if (!existsSync(main)) {
  console.error(`electra: ${main} is missing; run \`npm run build\` in the package directory first.`);
  process.exit(1);
}
// A reader that goes away (`electra ... | head`) ends the command quietly, as Unix tools do.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
const { run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
