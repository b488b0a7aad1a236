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

/** A small patterned corpus: 30 words, sentences that follow fixed word orders (so a model can learn
 * them), documents separated by blank lines. Returns the text and a matching vocabulary. */
export function patternedCorpus(docs = 200): { text: string; vocab: string[] } {
  const words = "the a cat dog sat on mat and ran far away big small red blue house tree river stone light dark night day sun moon star bird fish green old".split(" ");
  const sentence = (i: number) => {
    const n = 5 + (i % 7);
    const start = (i * 7) % words.length;
    return Array.from({ length: n }, (_, k) => words[(start + k * 3) % words.length]).join(" ") + " .";
  };
  const out: string[] = [];
  for (let d = 0; d < docs; d++) out.push(Array.from({ length: 4 + (d % 9) }, (_, i) => sentence(d * 13 + i)).join("\n"));
  return { text: out.join("\n\n") + "\n", vocab: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ...words] };
}
