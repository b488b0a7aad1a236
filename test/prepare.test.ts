import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { native } from "../src/native/binding.js";
import { hasSharedData, runCli, sharedData } from "./helpers.js";

let dir = "";
let vocab = "";
let corpus = "";
const WORDS = "the a cat dog sat on mat and ran far away big small red blue house tree river stone light dark night day sun moon star".split(" ");

function sentence(i: number): string {
  const n = 4 + (i % 9);
  return Array.from({ length: n }, (_, k) => WORDS[(i * 7 + k * 3) % WORDS.length]).join(" ") + ".";
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "electra-prepare-"));
  vocab = join(dir, "vocab.txt");
  writeFileSync(vocab, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ...WORDS].join("\n") + "\n");
  const docs: string[] = [];
  for (let d = 0; d < 60; d++) docs.push(Array.from({ length: 3 + (d % 11) }, (_, i) => sentence(d * 31 + i)).join("\n"));
  corpus = join(dir, "corpus.txt");
  writeFileSync(corpus, docs.join("\n\n") + "\n");
});

function prep(args: string[]) {
  return runCli(["prepare", ...args, "--json"]);
}
function manifest(out: string) {
  return JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
}
function shardBytes(out: string): Buffer[] {
  return readdirSync(out).filter((f) => f.endsWith(".shard")).sort().map((f) => readFileSync(join(out, f)));
}

describe("electra prepare", () => {
  it("packs a corpus into shards with a manifest, vocab.txt and a held-out split", () => {
    const out = join(dir, "out1");
    const r = prep([corpus, "--vocab", vocab, "--out", out, "--max-seq-length", "32", "--eval-fraction", "0.1"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(events[0].type).toBe("prepare-start");
    expect(events[events.length - 1].type).toBe("prepare-done");
    const m = manifest(out);
    expect(m.documents).toBe(60);
    expect(m.unk_tokens).toBe(0);
    expect(m.examples.train).toBeGreaterThan(50);
    expect(m.examples.eval).toBeGreaterThan(0);
    expect(readFileSync(join(out, "vocab.txt"), "utf8")).toBe(readFileSync(vocab, "utf8"));
    for (const s of m.shards) {
      const info = native().shardInfo(join(out, s.file));
      expect(info.seqLen).toBe(32);
      expect(info.idBytes).toBe(2);
      expect(info.examples).toBe(s.examples);
    }
  });

  it("gives the same shards for any thread count, and for CRLF/BOM, gzip and JSON-lines copies of the input", () => {
    const base = ["--vocab", vocab, "--max-seq-length", "32"];
    const outs = {
      t1: join(dir, "t1"), t2: join(dir, "t2"), crlf: join(dir, "crlf"), gz: join(dir, "gz"),
    };
    prep([corpus, ...base, "--out", outs.t1, "--threads", "1"]);
    prep([corpus, ...base, "--out", outs.t2, "--threads", "2"]);
    const crlf = join(dir, "crlf.txt");
    writeFileSync(crlf, "\ufeff" + readFileSync(corpus, "utf8").replace(/\n/g, "\r\n"));
    prep([crlf, ...base, "--out", outs.crlf]);
    const gz = join(dir, "corpus.txt.gz");
    writeFileSync(gz, gzipSync(readFileSync(corpus)));
    prep([gz, ...base, "--out", outs.gz]);
    const ref = shardBytes(outs.t1);
    expect(ref.length).toBeGreaterThan(0);
    for (const o of [outs.t2, outs.crlf, outs.gz]) expect(shardBytes(o)).toEqual(ref);
    // JSON lines: one record per document, paragraphs as lines
    const docs = readFileSync(corpus, "utf8").trim().split("\n\n");
    const jl = join(dir, "corpus.jsonl");
    writeFileSync(jl, docs.map((d) => JSON.stringify({ id: 1, body: d })).join("\n") + "\n");
    const outJ = join(dir, "jl");
    const r = prep([jl, ...base, "--out", outJ, "--text-field", "body"]);
    expect(r.code).toBe(0);
    expect(shardBytes(outJ)).toEqual(ref);
  });

  it("reuses a finished preparation, restarts an interrupted one, and --force redoes it", () => {
    const out = join(dir, "again");
    const args = [corpus, "--vocab", vocab, "--out", out, "--max-seq-length", "32"];
    prep(args);
    const first = manifest(out).created;
    const r = prep(args);
    expect(r.stdout).toMatch(/reusing/);
    expect(manifest(out).created).toBe(first);
    // an interrupted run: a stale temp file and a shard, no manifest
    writeFileSync(join(out, "manifest.json.tmp-999"), "{");
    writeFileSync(join(out, "train-00007.shard"), "partial");
    execFileSync("rm", [join(out, "manifest.json")]);
    expect(prep(args).code).toBe(0);
    expect(existsSync(join(out, "train-00007.shard"))).toBe(false);
    expect(existsSync(join(out, "manifest.json.tmp-999"))).toBe(false);
    expect(prep([...args, "--force"]).stdout).not.toMatch(/reusing/);
  });

  it("explains bad input and leaves no manifest behind", () => {
    const bin = join(dir, "image.txt");
    writeFileSync(bin, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13, 1, 2, 3]));
    const r1 = prep([bin, "--vocab", vocab, "--out", join(dir, "bad1")]);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(/image\.txt: looks like a binary file/);
    expect(existsSync(join(dir, "bad1", "manifest.json"))).toBe(false);

    const badVocab = join(dir, "novocab.txt");
    writeFileSync(badVocab, "[PAD]\n[UNK]\n[CLS]\nthe\n");
    expect(prep([corpus, "--vocab", badVocab, "--out", join(dir, "bad2")]).stderr).toMatch(/novocab\.txt: the vocabulary lacks \[SEP\]/);

    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "\n\n   \n");
    expect(prep([empty, "--vocab", vocab, "--out", join(dir, "bad3")]).stderr).toMatch(/no text found in .*empty\.txt/);

    expect(prep([join(dir, "missing.txt"), "--vocab", vocab]).stderr).toMatch(/missing\.txt: no such file or directory/);
    expect(prep([corpus, "--out", join(dir, "bad4")]).stderr).toMatch(/--vocab vocab\.txt .* or train one with --vocab-size/);

    const jl = join(dir, "bad.jsonl");
    writeFileSync(jl, '{"text": "fine"}\n{"text": oops}\n');
    expect(prep([jl, "--vocab", vocab, "--out", join(dir, "bad5")]).stderr).toMatch(/bad\.jsonl:2: invalid JSON/);
    const jl2 = join(dir, "nofield.jsonl");
    writeFileSync(jl2, '{"body": "fine"}\n');
    expect(prep([jl2, "--vocab", vocab, "--out", join(dir, "bad6")]).stderr).toMatch(/nofield\.jsonl:1: no string field "text"/);

    const notDir = join(dir, "corpus.txt", "sub"); // below a file: cannot be created
    const r7 = prep([corpus, "--vocab", vocab, "--out", notDir]);
    expect(r7.code).not.toBe(0);
    expect(r7.stderr).toMatch(/corpus\.txt/);
  });

  it("counts invalid UTF-8 instead of failing", () => {
    const f = join(dir, "latin1.txt");
    writeFileSync(f, Buffer.concat([Buffer.from("the cat sat "), Buffer.from([0xe9, 0xff]), Buffer.from(" on the mat.\n")]));
    const out = join(dir, "latin1");
    expect(prep([f, "--vocab", vocab, "--out", out]).code).toBe(0);
    expect(manifest(out).replaced_invalid_utf8).toBe(2);
  });
});

describe.skipIf(!hasSharedData)("electra prepare on the shared corpus (needs ../shared/data)", () => {
  it("prepares the Gutenberg books with BERT's vocabulary", () => {
    const out = join(dir, "gutenberg");
    const r = prep([join(sharedData, "corpus", "nltk-gutenberg"), "--vocab", join(sharedData, "vocab", "bert-base-uncased-vocab.txt"), "--out", out]);
    expect(r.code).toBe(0);
    const m = manifest(out);
    expect(m.inputs).toHaveLength(13);
    expect(m.examples.train).toBeGreaterThan(10000);
    expect(m.unk_rate).toBeLessThan(0.001);
  });
});
