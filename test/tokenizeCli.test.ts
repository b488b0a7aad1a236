// tokenizeCli.test.ts: `electra tokenize` run as a user would: stdin / files, ids / wordpieces, one output
// line per input line, the same output for any thread count, parity with Hugging Face, clear errors.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, runCli } from "./helpers.js";
import { hfBertTokenizer, hfEncodeAll, writeSyntheticVocab } from "./hfReference.js";

const dir = mkdtempSync(join(tmpdir(), "electra-tokenize-"));
const vocab = join(dir, "vocab.txt");
writeFileSync(vocab, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", ",", "!", "un", "##aff", "##able", "héllo"].join("\n") + "\n");

describe("electra tokenize", () => {
  it("writes one line of ids per input line, empty lines included", () => {
    const r = runCli(["tokenize", "--vocab", vocab], { input: "Hello, world!\n\nunaffable zz\nlast line: no newline" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("5 7 6 8\n\n9 10 11 1\n1 1 1 1 1\n"); // last, line, :, no, newline
  });

  it("--tokens writes wordpieces; --cased keeps case and accents", () => {
    expect(runCli(["tokenize", "--vocab", vocab, "--tokens"], { input: "Unaffable, HÉLLO!\r\n" }).stdout).toBe("un ##aff ##able , hello !\n");
    expect(runCli(["tokenize", "--vocab", vocab, "--tokens", "--cased"], { input: "héllo Hello\n" }).stdout).toBe("héllo [UNK]\n");
  });

  it("reads --input and writes --output; the output does not depend on --threads", () => {
    const input = join(dir, "in.txt");
    const lines = Array.from({ length: 60000 }, (_, i) => ["Hello, world!", "", "unaffable hello", "zz ! héllo"][i % 4] + " hello".repeat(i % 7));
    writeFileSync(input, lines.join("\n") + "\n");
    const outs = [1, 2, 3].map((threads) => {
      const out = join(dir, `out${threads}.txt`);
      const r = runCli(["tokenize", "--vocab", vocab, "--input", input, "--output", out, "--threads", String(threads)]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("");
      return readFileSync(out, "utf8");
    });
    expect(outs[0].split("\n").length).toBe(lines.length + 1);
    expect(outs[1]).toBe(outs[0]);
    expect(outs[2]).toBe(outs[0]);
    expect(runCli(["tokenize", "--vocab", vocab], { input: lines.join("\n") + "\n" }).stdout).toBe(outs[0]);
  });

  it("gives Hugging Face's ids for the hard strings", async () => {
    const hard = JSON.parse(readFileSync(join(repoRoot, "test", "fixtures", "tokenizer-hard-strings.json"), "utf8"));
    const texts: string[] = hard.strings.map((s: { text: string }) => s.text.replace(/\n/g, " "));
    const v = writeSyntheticVocab(texts, false);
    const expected = (await hfEncodeAll(await hfBertTokenizer(v, false), texts)).map((ids) => ids.join(" "));
    const r = runCli(["tokenize", "--vocab", v], { input: texts.join("\n") + "\n" });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").slice(0, -1)).toEqual(expected);
  });

  it("drops invalid UTF-8 with a warning that names the input", () => {
    const input = join(dir, "bad.txt");
    writeFileSync(input, Buffer.from("68656c6cff6f0a", "hex")); // "hell\xFFo\n"
    const r = runCli(["tokenize", "--vocab", vocab, "--input", input]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("5\n");
    expect(r.stderr).toContain(`1 invalid UTF-8 sequence(s) in ${input} were dropped`);
  });

  it("fails clearly, naming the file at fault", () => {
    const missing = join(dir, "nope.txt");
    let r = runCli(["tokenize", "--vocab", missing], { input: "x\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot read the vocabulary ${missing}`);
    r = runCli(["tokenize", "--vocab", vocab, "--input", missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot read ${missing}: no such file or directory`);
    const dup = join(dir, "dup.txt");
    writeFileSync(dup, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nx\nx\n");
    r = runCli(["tokenize", "--vocab", dup], { input: "x\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${dup}:7: duplicate entry "x"`);
    r = runCli(["tokenize", "--vocab", vocab, "--input", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot read ${dir}`);
    r = runCli(["tokenize"], { input: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Missing required argument: vocab/);
    expect(r.stdout).toBe("");
    r = runCli(["tokenize", "--vocab", vocab, "--threads", "-2"], { input: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--threads/);
  });

  it("--help explains the command", () => {
    const r = runCli(["tokenize", "--help"]);
    expect(r.code).toBe(0);
    for (const s of ["--vocab", "--cased", "--input", "--tokens", "--threads", "[CLS]", "stdin"]) expect(r.stdout).toContain(s);
  });
});
