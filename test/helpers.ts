// helpers.ts: shared test utilities: run the real CLI, find ../shared/data.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const sharedData = resolve(repoRoot, "..", "shared", "data");
export const hasSharedData = existsSync(sharedData);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs bin/electra.js with the given arguments, as a user would. */
export function runCli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [join(repoRoot, "bin", "electra.js"), ...args], {
    input: opts.input,
    encoding: "utf8",
    env: { ...process.env, ...opts.env },
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
