// inputs.ts: finds the input files of `electra prepare` (files, directories, globs) and reads them
// in chunks (.gz decompressed on the fly), reporting how many of the file's own bytes were consumed.
import { createReadStream, existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { createGunzip } from "node:zlib";

export interface InputFile {
  path: string;
  bytes: number; // size on disk
  mtimeMs: number;
  jsonl: boolean;
  gzip: boolean;
}

const TEXT_EXT = /\.(txt|text|jsonl|json|ndjson)(\.gz)?$/i;

function describe(path: string): InputFile {
  const st = statSync(path);
  const gzip = /\.gz$/i.test(path);
  const base = path.replace(/\.gz$/i, "");
  return { path, bytes: st.size, mtimeMs: st.mtimeMs, jsonl: /\.(jsonl|ndjson|json)$/i.test(base), gzip };
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    const st = e.isSymbolicLink() ? statSync(p, { throwIfNoEntry: false }) : e; // follow links
    if (!st) continue;
    if (st.isDirectory()) walk(p, out);
    else if (st.isFile() && TEXT_EXT.test(e.name)) out.push(p);
  }
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Expands files, directories (recursively: .txt, .jsonl, .gz of either) and globs (* ? **), in order. */
export function resolveInputs(specs: string[]): InputFile[] {
  const files: string[] = [];
  for (const spec of specs) {
    if (/[*?]/.test(spec)) {
      const abs = resolve(spec);
      const parts = abs.split(sep);
      const firstGlob = parts.findIndex((p) => /[*?]/.test(p));
      const base = parts.slice(0, firstGlob).join(sep) || sep;
      const re = globToRegExp(abs);
      const found: string[] = [];
      if (existsSync(base)) {
        const all: string[] = [];
        const walkAll = (d: string) => {
          for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = join(d, e.name);
            if (e.isDirectory()) walkAll(p);
            else if (e.isFile()) all.push(p);
          }
        };
        walkAll(base);
        for (const p of all.sort()) if (re.test(p)) found.push(p);
      }
      if (found.length === 0) throw new Error(`${spec}: no file matches this pattern`);
      files.push(...found);
      continue;
    }
    if (!existsSync(spec)) throw new Error(`${spec}: no such file or directory`);
    const st = statSync(spec);
    if (st.isDirectory()) {
      const found: string[] = [];
      walk(spec, found);
      if (found.length === 0) throw new Error(`${spec}: no .txt, .jsonl or .gz files in this directory`);
      files.push(...found);
    } else files.push(spec);
  }
  const seen = new Set<string>();
  return files.filter((f) => (seen.has(resolve(f)) ? false : (seen.add(resolve(f)), true))).map(describe);
}

/** Reads a file in chunks: yields [decompressed bytes, file bytes consumed so far]. */
export async function* readChunks(file: InputFile, chunkBytes = 4 << 20): AsyncGenerator<[Uint8Array, number]> {
  const raw = createReadStream(file.path, { highWaterMark: chunkBytes });
  let consumed = 0;
  raw.on("data", (b) => (consumed += (b as Buffer).length));
  const stream = file.gzip ? raw.pipe(createGunzip({ chunkSize: 1 << 20 })) : raw;
  try {
    for await (const chunk of stream) yield [chunk as Buffer, consumed];
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (file.gzip && /incorrect header|unexpected end|invalid/i.test(err.message))
      throw new Error(`${file.path}: not a valid gzip file (${err.message})`);
    throw new Error(`${file.path}: cannot read: ${err.message}`);
  } finally {
    raw.destroy();
  }
}

export const displayName = (p: string) => (p.length > 60 ? `…${sep}${basename(dirname(p))}${sep}${basename(p)}` : p);
