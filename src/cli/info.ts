// info.ts: `electra info`: version and engine build facts, as text or JSON.
import { native, type EngineInfo } from "../native/binding.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../native/binding.js";

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")).version as string;
}

function cudaVersion(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

function cudaLine(c: EngineInfo["cuda"]): string {
  if (!c.compiled) return `not compiled (${c.note})`;
  const runtime = `runtime ${cudaVersion(c.runtimeVersion)}`;
  if (c.devices.length === 0) return `compiled (${runtime}); no device: ${c.note}`;
  return `compiled (${runtime}, driver ${cudaVersion(c.driverVersion)}): ${c.devices.length} device${c.devices.length > 1 ? "s" : ""}`;
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
      `cuda        ${cudaLine(engine.cuda)}`,
      ...engine.cuda.devices.map(
        (d) => `  gpu ${d.index}     ${d.name}, compute ${d.computeCapability}, ${(d.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${d.multiprocessors} SMs`,
      ),
    ];
    process.stdout.write(lines.join("\n") + "\n");
  }
  return 0;
}
