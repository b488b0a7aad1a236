// glueReader.test.ts: GLUE task specs and the TSV reader: every task's miniature files (BOM, CRLF,
// no final newline, quotes, MNLI's last-column label), file:line errors, and the real files in ../shared/data.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseGlueTsv, readSplit, splitFile, withSwappedPairs, type Example } from "../src/glue/reader.js";
import { AX_CANDIDATES, TASKS, TASK_NAMES, resolveTasks, splitsOf, type SplitName, type TaskName } from "../src/glue/tasks.js";
import { repoRoot, sharedData } from "./helpers.js";

const fixtures = join(repoRoot, "test", "fixtures", "glue");
const realGlue = join(sharedData, "glue");
const hasGlue = existsSync(realGlue);
const noData = hasGlue ? "" : " (skipped: ../shared/data/glue is absent)";

const tmp = mkdtempSync(join(tmpdir(), "electra-glue-reader-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const parse = (task: TaskName, split: SplitName, text: string | Buffer, file = "x.tsv") =>
  parseGlueTsv(TASKS[task], split, typeof text === "string" ? Buffer.from(text) : text, file);

describe("task specs", () => {
  it("lists the ten tasks with GLUE's folder names, ELECTRA's label lists, swaps and epochs", () => {
    expect(TASK_NAMES).toEqual(["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli", "ax"]);
    expect(TASK_NAMES.map((t) => TASKS[t].folder)).toEqual(["CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI", "QNLI", "RTE", "WNLI", "diagnostic"]);
    expect(TASKS.mnli.labels).toEqual(["contradiction", "entailment", "neutral"]);
    expect(TASKS.ax.labels).toEqual(["contradiction", "entailment", "neutral"]);
    for (const t of ["qnli", "rte"] as const) expect(TASKS[t].labels).toEqual(["entailment", "not_entailment"]);
    for (const t of ["cola", "sst2", "mrpc", "qqp", "wnli"] as const) expect(TASKS[t].labels).toEqual(["0", "1"]);
    expect(TASKS.stsb.labels).toBeNull();
    expect(TASK_NAMES.filter((t) => TASKS[t].swapTrainPairs)).toEqual(["mrpc", "stsb"]);
    expect(TASK_NAMES.filter((t) => TASKS[t].epochs === 10)).toEqual(["stsb", "rte"]);
    expect(TASK_NAMES.filter((t) => TASKS[t].epochs !== 10).every((t) => TASKS[t].epochs === 3)).toBe(true);
    expect(TASKS.cola.metrics).toEqual(["mcc"]);
    expect(TASKS.mrpc.metrics).toEqual(["f1", "accuracy"]);
    expect(TASKS.qqp.metrics).toEqual(["f1", "accuracy"]);
    expect(TASKS.stsb.metrics).toEqual(["pearson", "spearman"]);
    expect(TASKS.mnli.devSplits).toEqual(["dev_matched", "dev_mismatched"]);
    expect(TASKS.mnli.testSplits).toEqual(["test_matched", "test_mismatched"]);
    expect(TASKS.ax.files.test).toEqual(["diagnostic/diagnostic.tsv", "AX/AX.tsv", "AX.tsv", "diagnostic.tsv"]);
  });

  it("resolveTasks: all, lists in the order given, GLUE spellings, no duplicates, clear errors", () => {
    expect(resolveTasks("all").map((t) => t.name)).toEqual(TASK_NAMES);
    expect(resolveTasks("rte,mrpc").map((t) => t.name)).toEqual(["rte", "mrpc"]);
    expect(resolveTasks(" SST-2 , STS-B,rte,rte ").map((t) => t.name)).toEqual(["sst2", "stsb", "rte"]);
    expect(resolveTasks("rte,all").map((t) => t.name)).toEqual(["rte", ...TASK_NAMES.filter((t) => t !== "rte")]);
    expect(() => resolveTasks("rte,squad")).toThrow(/unknown GLUE task "squad".*cola, sst2/);
    expect(() => resolveTasks(" , ")).toThrow(/no GLUE task given/);
  });
});

/** What each miniature holds: row count and the first example. */
const expected: Record<TaskName, Partial<Record<SplitName, { n: number; first: Example }>>> = {
  cola: {
    train: { n: 5, first: { index: "0", textA: "The cat sat on the mat.", label: 1 } },
    dev: { n: 3, first: { index: "0", textA: "The dog chased the ball.", label: 1 } },
    test: { n: 2, first: { index: "0", textA: "Mary ran to the store." } },
  },
  sst2: {
    train: { n: 4, first: { index: "0", textA: "a charming and often affecting journey . ", label: 1 } },
    dev: { n: 3, first: { index: "0", textA: "a moving , funny film . ", label: 1 } },
    test: { n: 2, first: { index: "0", textA: "an uneasy mishmash of styles ." } },
  },
  mrpc: {
    train: { n: 3, first: { index: "0", textA: 'He called it "the witness", and left.', textB: 'Calling it only "the witness", he left.', label: 1 } },
    dev: { n: 2, first: { index: "0", textA: "The pie business does not fit the strategy.", textB: '"The pie business does not fit our strategy.', label: 1 } },
    test: { n: 2, first: { index: "0", textA: "The officer will report directly to Mr So.", textB: "The officer will report to Mr So." } },
  },
  stsb: {
    train: { n: 3, first: { index: "0", textA: "A plane is taking off.", textB: "An air plane is taking off.", score: 5 } },
    dev: { n: 3, first: { index: "0", textA: "A man with a hard hat is dancing.", textB: "A man wearing a hard hat is dancing.", score: 5 } },
    test: { n: 2, first: { index: "0", textA: "A girl is styling her hair.", textB: "A girl is brushing her hair." } },
  },
  qqp: {
    train: { n: 3, first: { index: "133273", textA: "How is the life of a math student?", textB: 'What is it like to study "pure" math?', label: 0 } },
    dev: { n: 3, first: { index: "201359", textA: "Why are African-Americans so beautiful?", textB: "Why are hispanics so beautiful?", label: 0 } },
    test: { n: 2, first: { index: "0", textA: "Why do rockets look white?", textB: "Why are rockets white?" } },
  },
  mnli: {
    train: { n: 4, first: { index: "0", textA: "Conceptually cream skimming has two dimensions.", textB: "Product and geography are what make cream skimming work.", label: 2 } },
    dev: { n: 3, first: { index: "0", textA: "The new rights are nice enough.", textB: "Everyone really likes the newest benefits.", label: 2 } },
    dev_matched: { n: 3, first: { index: "0", textA: "The new rights are nice enough.", textB: "Everyone really likes the newest benefits.", label: 2 } },
    dev_mismatched: { n: 2, first: { index: "0", textA: "Your contribution helped make it possible.", textB: "Your contributions were of no help.", label: 0 } },
    test: { n: 2, first: { index: "0", textA: "Hierbas is the local liqueur.", textB: "There is a local liqueur." } },
    test_matched: { n: 2, first: { index: "0", textA: "Hierbas is the local liqueur.", textB: "There is a local liqueur." } },
    test_mismatched: { n: 3, first: { index: "0", textA: "What have you decided?", textB: "Have you decided yet?" } },
  },
  qnli: {
    train: { n: 2, first: { index: "0", textA: "When did the third Digimon series begin?", textB: "Unlike the two seasons before it, the third season is darker.", label: 1 } },
    dev: { n: 2, first: { index: "0", textA: "What came into force after the new constitution was herald?", textB: "As of that day, the new constitution heralding the Second Republic came into force.", label: 0 } },
    test: { n: 2, first: { index: "0", textA: "What organization is devoted to Jihad?", textB: "For some decades prior to the revolution, a group was devoted to Jihad." } },
  },
  rte: {
    train: { n: 2, first: { index: "0", textA: "No Weapons of Mass Destruction Found in Iraq Yet.", textB: "Weapons of Mass Destruction Found in Iraq.", label: 1 } },
    dev: { n: 3, first: { index: "0", textA: "Dana Reeve has died of lung cancer at age 44.", textB: "Christopher Reeve had an accident.", label: 1 } },
    test: { n: 2, first: { index: "0", textA: "Mangla was summoned after the first witness.", textB: "Shukla is related to Mangla." } },
  },
  wnli: {
    train: { n: 3, first: { index: "0", textA: "I stuck a pin through a carrot. When I pulled the pin out, it had a hole.", textB: "The carrot had a hole.", label: 1 } },
    dev: { n: 2, first: { index: "0", textA: "The drain is clogged with hair. It has to be cleaned.", textB: "The hair has to be cleaned.", label: 0 } },
    test: { n: 2, first: { index: "0", textA: "Maude and Dora had seen the trains rushing across the prairie.", textB: "The trains were rushing." } },
  },
  ax: {
    test: { n: 3, first: { index: "0", textA: "The cat sat on the mat.", textB: "The cat did not sit on the mat." } },
  },
};

describe("reads every task's miniature files", () => {
  for (const task of TASK_NAMES) {
    it(`${TASKS[task].title}: ${splitsOf(TASKS[task]).join(", ")}`, () => {
      expect(Object.keys(expected[task]).sort()).toEqual(splitsOf(TASKS[task]).sort());
      for (const split of splitsOf(TASKS[task])) {
        const { examples, file } = readSplit(task, fixtures, split);
        const want = expected[task][split]!;
        expect(file.startsWith(fixtures)).toBe(true);
        expect(examples.length, `${task} ${split}`).toBe(want.n);
        expect(examples[0], `${task} ${split}`).toEqual(want.first);
        const test = split.startsWith("test");
        for (const e of examples) {
          expect(e.textA.length).toBeGreaterThan(0);
          expect(e.textA).not.toMatch(/[\t\r\n\uFEFF]/);
          expect(e.textB === undefined).toBe(TASKS[task].test.textB === undefined);
          expect(e.label === undefined).toBe(test || task === "stsb");
          expect(e.score === undefined).toBe(test || task !== "stsb");
        }
      }
    });
  }

  it("CoLA dev without a final newline keeps its last row", () => {
    expect(readFileSync(join(fixtures, "CoLA", "dev.tsv"), "utf8").endsWith("\n")).toBe(false);
    const { examples } = readSplit("cola", fixtures, "dev");
    expect(examples.at(-1)).toEqual({ index: "2", textA: "Who do you think left?", label: 1 });
  });

  it("MRPC's BOM is dropped and quotes are ordinary characters", () => {
    expect([...readFileSync(join(fixtures, "MRPC", "train.tsv")).subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const dev = readSplit("mrpc", fixtures, "dev").examples;
    expect(dev[1].textB).toBe('His wife said he was "100 percent behind" the plan.');
    const cola = readSplit("cola", fixtures, "train").examples;
    expect(cola[2].textA).toBe('She said "hello" and left.');
  });

  it("QQP dev in CRLF: labels and last texts carry no \\r", () => {
    expect(readFileSync(join(fixtures, "QQP", "dev.tsv"), "utf8")).toContain("\r\n");
    const { examples } = readSplit("qqp", fixtures, "dev");
    expect(examples.map((e) => e.label)).toEqual([0, 0, 1]);
    expect(examples[2]).toEqual({ index: "172974", textA: "Is there a way to learn Python fast?", textB: "How do I learn Python quickly?", label: 1 });
  });

  it("MNLI's label is the LAST column (gold_label), not label1", () => {
    // train row 3: label1 neutral, gold_label contradiction.
    expect(readSplit("mnli", fixtures, "train").examples.map((e) => e.label)).toEqual([2, 1, 1, 0]);
    expect(readSplit("mnli", fixtures, "dev_matched").examples.map((e) => e.label)).toEqual([2, 0, 1]);
  });

  it("STS-B scores come from the last column as floats", () => {
    expect(readSplit("stsb", fixtures, "train").examples.map((e) => e.score)).toEqual([5, 3.8, 0]);
    expect(readSplit("stsb", fixtures, "dev").examples.map((e) => e.score)).toEqual([5, 4.75, 0.4]);
  });

  it("AX: found in each of the four layouts; the error lists the paths tried", () => {
    const rows = readFileSync(join(fixtures, "diagnostic", "diagnostic.tsv"));
    for (const rel of AX_CANDIDATES) {
      const dir = join(tmp, "ax-" + rel.replace(/\W/g, "_"));
      mkdirSync(join(dir, rel, ".."), { recursive: true });
      writeFileSync(join(dir, rel), rows);
      const r = readSplit("ax", dir, "test");
      expect(r.file).toBe(join(dir, rel));
      expect(r.examples.length).toBe(3);
    }
    const empty = join(tmp, "ax-none");
    mkdirSync(empty);
    const msg = errorOf(() => readSplit("ax", empty, "test"));
    for (const rel of AX_CANDIDATES) expect(msg).toContain(join(empty, rel));
  });

  it("missing files: the path, GLUE's folder names; the task folder itself given as data dir", () => {
    const msg = errorOf(() => readSplit("qqp", join(tmp, "nowhere"), "train"));
    expect(msg).toContain(join(tmp, "nowhere", "QQP", "train.tsv"));
    expect(msg).toMatch(/CoLA\/, SST-2\/, MRPC\/, STS-B\/, QQP\/, MNLI\/, QNLI\/, RTE\/, WNLI\//);
    expect(errorOf(() => readSplit("rte", join(fixtures, "RTE"), "dev"))).toMatch(/RTE\/dev\.tsv exists: pass the folder above/);
    expect(errorOf(() => readSplit("ax", fixtures, "dev"))).toMatch(/AX has no "dev" split; it has test/);
    expect(errorOf(() => readSplit("rte", fixtures, "dev_matched"))).toMatch(/RTE has no "dev_matched" split/);
  });

  it("withSwappedPairs: MRPC and STS-B train on both orders, after the originals; others unchanged", () => {
    const mrpc = readSplit("mrpc", fixtures, "train").examples;
    const both = withSwappedPairs("mrpc", mrpc);
    expect(both.length).toBe(6);
    expect(both.slice(0, 3)).toEqual(mrpc);
    expect(both[3]).toEqual({ index: "0-swapped", textA: mrpc[0].textB, textB: mrpc[0].textA, label: 1 });
    const sts = withSwappedPairs("stsb", readSplit("stsb", fixtures, "train").examples);
    expect(sts[4]).toMatchObject({ textA: "A man is playing a \"large\" flute.", score: 3.8 });
    const rte = readSplit("rte", fixtures, "train").examples;
    expect(withSwappedPairs("rte", rte)).toBe(rte);
  });
});

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("malformed rows: file:line errors", () => {
  const rte = "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n";

  it("wrong column count names file, 1-based line, expected and found columns", () => {
    expect(errorOf(() => parse("rte", "dev", rte + "1\tA.\tentailment\n", "rte.tsv")))
      .toBe("rte.tsv:3: expected 4 tab-separated columns for RTE dev, got 3 columns");
    expect(errorOf(() => parse("rte", "dev", rte + "1\tA.\tB.\tentailment\textra\n"))).toMatch(/^x\.tsv:3: .*got 5 columns$/);
    // CoLA has no header: line 1 is data.
    expect(errorOf(() => parse("cola", "train", "gj04\t1\tThe cat.\n"))).toMatch(/^x\.tsv:1: expected 4 tab-separated columns for CoLA train, got 3 columns$/);
    expect(errorOf(() => parse("rte", "dev", "index\tsentence1\tsentence2\n0\tA.\tB.\tentailment\n"))).toMatch(/^x\.tsv:1: .*\(header\), got 3 columns$/);
    expect(errorOf(() => parse("mnli", "train", "a\tb\n"))).toMatch(/expected at least 11 tab-separated columns/);
  });

  it("quotes do not hide tabs: a quoted field with a tab is two columns", () => {
    expect(errorOf(() => parse("sst2", "dev", 'sentence\tlabel\n"a\tb"\t1\n'))).toMatch(/^x\.tsv:2: .*got 3 columns$/);
  });

  it("an empty line is malformed except as the file's final newline", () => {
    expect(parse("rte", "dev", rte).examples.length).toBe(1);
    expect(errorOf(() => parse("rte", "dev", rte + "\n"))).toMatch(/^x\.tsv:3: .*got an empty line$/);
    expect(errorOf(() => parse("rte", "dev", rte.replace("\n0", "\n\n0")))).toMatch(/^x\.tsv:2: .*got an empty line$/);
    expect(errorOf(() => parse("rte", "dev", rte.replaceAll("\n", "\r\n") + "\r\n"))).toMatch(/^x\.tsv:3: .*got an empty line$/);
    expect(parse("rte", "dev", rte.replaceAll("\n", "\r\n")).examples).toEqual([{ index: "0", textA: "A.", textB: "B.", label: 0 }]);
  });

  it("empty required text", () => {
    expect(errorOf(() => parse("rte", "dev", rte + "1\tA.\t \tentailment\n"))).toMatch(/^x\.tsv:3: expected text in column 3 of 4 \(RTE dev\), got an empty field$/);
    expect(errorOf(() => parse("cola", "dev", "gj04\t1\t\t\n"))).toMatch(/^x\.tsv:1: expected text in column 4/);
  });

  it("STS-B: unparsable or out-of-range scores", () => {
    const head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
    const row = (s: string) => head + `0\tg\tf\t2012\t0001\tnone\tnone\tA.\tB.\t${s}\n`;
    expect(parse("stsb", "dev", row("3.25")).examples[0].score).toBe(3.25);
    expect(errorOf(() => parse("stsb", "dev", row("high")))).toBe('x.tsv:2: expected a score from 0 to 5 in the last column (STS-B dev), got "high" (10 columns)');
    expect(errorOf(() => parse("stsb", "dev", row("")))).toMatch(/^x\.tsv:2: .*got ""/);
    expect(errorOf(() => parse("stsb", "dev", row("5.5")))).toMatch(/^x\.tsv:2: .*got "5.5"/);
    expect(errorOf(() => parse("stsb", "dev", row("0x1")))).toMatch(/got "0x1"/);
  });

  it("labels outside the task's set name file, line, label and the allowed set", () => {
    expect(errorOf(() => parse("rte", "dev", rte + "1\tA.\tB.\tneutral\n", "/d/RTE/dev.tsv")))
      .toBe('/d/RTE/dev.tsv:3: label "neutral" in column 4 is not one of RTE\'s labels "entailment", "not_entailment"');
    expect(errorOf(() => parse("cola", "train", "gj04\t1\t\tOk.\ngj04\t2\t\tOk.\n"))).toMatch(/^x\.tsv:2: label "2" in column 2 is not one of CoLA's labels "0", "1"$/);
    const mnli = readFileSync(join(fixtures, "MNLI", "dev_mismatched.tsv"), "utf8").replace(/contradiction\n$/, "-\n");
    expect(errorOf(() => parse("mnli", "dev_mismatched", mnli))).toMatch(/^x\.tsv:3: label "-" in the last column is not one of MNLI's labels "contradiction", "entailment", "neutral"$/);
  });

  it("errors from a real file name its path", () => {
    const dir = join(tmp, "bad");
    mkdirSync(join(dir, "MRPC"), { recursive: true });
    const text = readFileSync(join(fixtures, "MRPC", "dev.tsv"), "utf8");
    writeFileSync(join(dir, "MRPC", "dev.tsv"), text + "1\t1\t2\tonly three\n");
    expect(errorOf(() => readSplit("mrpc", dir, "dev"))).toBe(`${join(dir, "MRPC", "dev.tsv")}:4: expected 5 tab-separated columns for MRPC dev, got 4 columns`);
  });

  it("skipMalformed passes over bad rows and lists them; bad labels still throw", () => {
    const text = rte + "1\tA.\n2\tA.\t\tentailment\n3\tC.\tD.\tnot_entailment\n";
    const r = parseGlueTsv(TASKS.rte, "dev", Buffer.from(text), "x.tsv", { skipMalformed: true });
    expect(r.examples.map((e) => e.index)).toEqual(["0", "3"]);
    expect(r.skipped).toEqual([
      "x.tsv:3: expected 4 tab-separated columns for RTE dev, got 2 columns",
      "x.tsv:4: expected text in column 3 of 4 (RTE dev), got an empty field",
    ]);
    expect(() => parseGlueTsv(TASKS.rte, "dev", Buffer.from(rte + "1\tA.\tB.\tyes\n"), "x.tsv", { skipMalformed: true })).toThrow(/label "yes"/);
    // Row numbers (CoLA has no id column) count skipped rows, as ELECTRA's eid does.
    const cola = parseGlueTsv(TASKS.cola, "dev", Buffer.from("s\t1\t\tA.\ns\t1\tB.\ns\t0\t*\tC.\n"), "x.tsv", { skipMalformed: true });
    expect(cola.examples.map((e) => e.index)).toEqual(["0", "2"]);
  });

  it("a file with no rows is an error", () => {
    expect(errorOf(() => parse("rte", "dev", "index\tsentence1\tsentence2\tlabel\n"))).toBe("x.tsv: no examples (RTE dev)");
    expect(errorOf(() => parse("cola", "dev", ""))).toBe("x.tsv: no examples (CoLA dev)");
  });

  it("non-ASCII text decodes intact, split across columns", () => {
    const r = parse("rte", "dev", "index\tsentence1\tsentence2\tlabel\n0\tCafé «naïve» — 日本\tZoë\tentailment\n");
    expect(r.examples[0]).toEqual({ index: "0", textA: "Café «naïve» — 日本", textB: "Zoë", label: 0 });
  });
});

describe.skipIf(!hasGlue)(`the real GLUE files in ../shared/data/glue${noData}`, () => {
  // Row counts of GLUE's files (lines minus the header); dev sizes are the official ones.
  const sizes: Partial<Record<TaskName, Record<"train" | "dev" | "test", number>>> = {
    cola: { train: 8551, dev: 1043, test: 1063 },
    sst2: { train: 67349, dev: 872, test: 1821 },
    mrpc: { train: 3668, dev: 408, test: 1725 },
    stsb: { train: 5749, dev: 1500, test: 1379 },
    rte: { train: 2490, dev: 277, test: 3000 },
  };
  for (const [task, want] of Object.entries(sizes) as [TaskName, Record<"train" | "dev" | "test", number>][]) {
    it(`${TASKS[task].title}: every row of train, dev and test reads`, () => {
      for (const split of ["train", "dev", "test"] as const) {
        const { examples, file } = readSplit(task, realGlue, split);
        // Independent count: newline-terminated lines, plus an unterminated last one, minus the header.
        const text = readFileSync(file, "utf8");
        const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
        const layout = split === "test" ? TASKS[task].test : TASKS[task].labeled!;
        expect(examples.length, `${task} ${split}`).toBe(lines - (layout.header ? 1 : 0));
        expect(examples.length, `${task} ${split}`).toBe(want[split]);
        if (split !== "test") {
          const key = TASKS[task].labels ? "label" : "score";
          expect(examples.every((e) => e[key] !== undefined)).toBe(true);
        }
        if (split === "test") expect(new Set(examples.map((e) => e.index)).size).toBe(examples.length);
      }
    });
  }

  it("both CoLA classes and all RTE labels occur; STS-B scores span 0..5", () => {
    expect(new Set(readSplit("cola", realGlue, "dev").examples.map((e) => e.label))).toEqual(new Set([0, 1]));
    expect(new Set(readSplit("rte", realGlue, "dev").examples.map((e) => e.label))).toEqual(new Set([0, 1]));
    const scores = readSplit("stsb", realGlue, "dev").examples.map((e) => e.score!);
    expect(Math.min(...scores)).toBe(0);
    expect(Math.max(...scores)).toBe(5);
  });

  it("the task folder on its own is a clear error", () => {
    const dir = join(tmp, "real-rte");
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(realGlue, "RTE", "dev.tsv"), join(dir, "dev.tsv"));
    expect(() => splitFile("rte", dir, "dev")).toThrow(/dev\.tsv exists: pass the folder above/);
  });
});
