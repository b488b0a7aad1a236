// binding.ts: the one typed description of the native addon. Untyped values from C++ become typed
// here and nowhere else. The addon is loaded once, lazily, with a clear message if it was not built.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface EngineInfo {
  version: string;
  compiler: string;
  buildType: string;
  isa: "avx512" | "avx2" | "scalar";
  avx512Bf16: boolean;
  threads: number;
  hardwareThreads: number;
  cudaCompiled: boolean;
}

/** The native module's exports. Each binding file in native/addon adds its own part. */
export interface NativeBinding {
  engineInfo(): EngineInfo;
  setThreads(n: number): void;
  [extra: string]: unknown;
}

export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

let cached: NativeBinding | undefined;

/** Loads build/Release/electra.node (once). Throws an Error that says how to build it. */
export function native(): NativeBinding {
  if (cached) return cached;
  const candidates = [
    process.env.ELECTRA_ADDON,
    join(packageRoot, "build", "Release", "electra.node"),
    join(packageRoot, "build", "Debug", "electra.node"),
  ].filter((p): p is string => !!p);
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      `the native engine is not built (looked for ${candidates.join(", ")}). ` +
        `Run \`npm run build:native\` in ${packageRoot} (needs cmake and a C++17 compiler).`,
    );
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeBinding;
  return cached;
}
