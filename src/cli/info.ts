// info.ts: `electra info`: version and engine build facts, as text or JSON.
import { native } from "../native/binding.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../native/binding.js";

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")).version as string;
}

export function infoCommand(opts: { json: boolean }): number {
  const engine = native().engineInfo();
  const data = { version: packageVersion(), node: process.version, engine };
  if (opts.json) {
    process.stdout.write(JSON.stringify(data) + "\n");
  } else {
    const lines = [
      `electra ${data.version} (node ${data.node})`,
      `engine      ${engine.version}, ${engine.buildType} build, ${engine.compiler}`,
      `cpu         ${engine.isa}${engine.avx512Bf16 ? " + avx512-bf16" : ""} (chosen at run time)`,
      `threads     ${engine.threads} of ${engine.hardwareThreads} logical CPUs`,
      `cuda        ${engine.cudaCompiled ? "compiled" : "not compiled"}`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  }
  return 0;
}
