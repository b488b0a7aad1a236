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
const { run } = await import(main);
process.exitCode = await run(process.argv.slice(2));
