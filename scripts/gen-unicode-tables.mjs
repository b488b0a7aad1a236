#!/usr/bin/env node
// gen-unicode-tables.mjs: writes native/tokenizer/unicode_tables.cpp, the character data of the BERT
// normalizer, from Node's own Unicode data plus scripts/unicode-hf-compat.json. Not run at build time.
//
//   node scripts/gen-unicode-tables.mjs                    regenerate the C++ tables
//   node scripts/gen-unicode-tables.mjs --probe-reference  re-derive unicode-hf-compat.json by probing the
//                                                          `tokenizers` npm package over every code point
//   node scripts/gen-unicode-tables.mjs --check-reference  fail if the committed compat file is stale
//
// Why a compat file: Hugging Face's Rust tokenizer (BertTokenizerFast, the parity reference) classifies
// characters with the `unicode_categories` crate and decomposes with `unicode-normalization-alignments`,
// whose tables are Unicode 8/9 era, while Node (ICU) has a current Unicode. Characters assigned or
// re-categorised since then (new punctuation, new combining marks, a few format characters and
// decompositions) therefore behave differently in the reference. The compat file lists exactly those
// code points, as the reference sees them, so the native tokenizer gives the same ids as the reference
// for every code point. Everything else comes from Node.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compatPath = join(root, "scripts", "unicode-hf-compat.json");
const outPath = join(root, "native", "tokenizer", "unicode_tables.cpp");
const MAX_CP = 0x10ffff;
const isSurrogate = (c) => c >= 0xd800 && c <= 0xdfff;
const hex = (c) => "0x" + c.toString(16).toUpperCase();

// BERT's "Chinese character" ranges, as HF's Rust BertNormalizer has them. Google's and HF's Python code
// have 0x2B820..0x2CEAF where Rust has 0x2B920..0x2CEAF; the Rust reading is the one we match.
const CJK_RANGES = [
  [0x4e00, 0x9fff], [0x3400, 0x4dbf], [0x20000, 0x2a6df], [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f], [0x2b920, 0x2ceaf], [0xf900, 0xfaff], [0x2f800, 0x2fa1f],
];
const isCjk = (c) => CJK_RANGES.some(([a, b]) => c >= a && c <= b);
const isAsciiPunct = (c) => (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);

const reOther = /^[\p{Cc}\p{Cf}\p{Co}\p{Cs}]$/u; // Rust `is_other` minus Cn: unassigned code points are kept
const reSpace = /^\p{White_Space}$/u;
const reCc = /^\p{Cc}$/u;
const rePunct = /^\p{P}$/u;
const reMn = /^\p{Mn}$/u;

// ---- Node's view, one property at a time -------------------------------------------------------

// Cleaning: "drop" (NUL, U+FFFD, control/format/private-use), "space" (\t \n \r and White_Space), or keep.
function nodeClean(c) {
  if (c === 9 || c === 10 || c === 13) return "space";
  const s = String.fromCodePoint(c);
  if (c === 0 || c === 0xfffd || reOther.test(s)) return "drop";
  if (reSpace.test(s) && !reCc.test(s)) return "space";
  return "keep";
}
const nodePunct = (c) => isAsciiPunct(c) || rePunct.test(String.fromCodePoint(c));
const nodeMn = (c) => reMn.test(String.fromCodePoint(c));
const nodeNfd = (c) => [...String.fromCodePoint(c).normalize("NFD")].map((ch) => ch.codePointAt(0));
const nodeLower = (c) => [...String.fromCodePoint(c).toLowerCase()].map((ch) => ch.codePointAt(0));
// Canonical combining class is not exposed by JavaScript; NFD's reordering reveals whether it is zero.
const nodeCccNonzero = (c) => {
  const x = String.fromCodePoint(c);
  return (x + "\u0334").normalize("NFD") !== x + "\u0334" || ("\u0301" + x).normalize("NFD") !== "\u0301" + x;
};

// ---- helpers ------------------------------------------------------------------------------------

function toRanges(cps) {
  const sorted = [...cps].sort((a, b) => a - b);
  const out = [];
  for (const c of sorted) {
    if (out.length && out[out.length - 1][1] === c - 1) out[out.length - 1][1] = c;
    else out.push([c, c]);
  }
  return out;
}
const rangesToJson = (cps) => toRanges(cps).map(([a, b]) => (a === b ? hex(a) : `${hex(a)}..${hex(b)}`));
function rangesFromJson(list) {
  const set = new Set();
  for (const item of list ?? []) {
    const [a, b] = item.split("..").map((h) => parseInt(h, 16));
    for (let c = a; c <= (b ?? a); c++) set.add(c);
  }
  return set;
}
const cpsToJson = (cps) => cps.map(hex).join(" ");
const cpsFromJson = (s) => (s.trim() === "" ? [] : s.trim().split(/\s+/).map((h) => parseInt(h, 16)));

// ---- probing the reference ----------------------------------------------------------------------

function loadReference() {
  const require = createRequire(join(root, "package.json"));
  try {
    return require("tokenizers");
  } catch (e) {
    throw new Error(`the \`tokenizers\` package is needed to probe the reference (npm ci): ${e.message}`);
  }
}

/** Where the reference differs from Node's data, per property, over every code point. */
function probeReference() {
  const tk = loadReference();
  const only = (o) => tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false, ...o });
  const clean = only({ cleanText: true });
  const lower = only({ lowercase: true });
  const strip = only({ stripAccents: true });
  const chinese = only({ handleChineseChars: true });
  const nfd = tk.nfdNormalizer();
  const pre = tk.bertPreTokenizer();
  const d = { drop: [], keep: [], space: [], punct: [], notPunct: [], mn: [], notMn: [], cccZero: [], cccNonzero: [] };
  const decompositions = {};
  const lowercase = {};
  const cjkMismatch = [];
  for (let c = 0; c <= MAX_CP; c++) {
    if (isSurrogate(c)) continue;
    const x = String.fromCodePoint(c);
    // cleaning
    const rc = clean.normalizeString(x);
    const refClean = rc === "" ? "drop" : rc === " " ? "space" : "keep";
    const nc = nodeClean(c);
    if (refClean !== nc) d[refClean].push(c);
    // Chinese characters (a rule, not Unicode data: only verified)
    if ((chinese.normalizeString(x) !== x) !== isCjk(c)) cjkMismatch.push(c);
    // punctuation (only meaningful for characters that are not whitespace)
    if (refClean !== "space" && nc !== "space") {
      const rp = pre.preTokenizeString("a" + x + "b").length === 3;
      if (rp !== nodePunct(c)) (rp ? d.punct : d.notPunct).push(c);
    }
    // canonical decomposition
    const rd = [...nfd.normalizeString(x)].map((ch) => ch.codePointAt(0));
    const nd = nodeNfd(c);
    if (rd.join() !== nd.join()) decompositions[hex(c)] = rd.length === 1 && rd[0] === c ? "" : cpsToJson(rd);
    // non-spacing marks, for characters the reference does not decompose
    if (rd.length === 1 && rd[0] === c) {
      const rm = strip.normalizeString(x) === "";
      if (rm !== nodeMn(c)) (rm ? d.mn : d.notMn).push(c);
      const refNz = nfd.normalizeString(x + "\u0334") !== x + "\u0334" || nfd.normalizeString("\u0301" + x) !== "\u0301" + x;
      const nodeNz = nodeCccNonzero(c);
      if (refNz !== nodeNz) (refNz ? d.cccNonzero : d.cccZero).push(c);
    }
    // lower-casing
    const rl = [...lower.normalizeString(x)].map((ch) => ch.codePointAt(0));
    if (rl.join() !== nodeLower(c).join()) lowercase[hex(c)] = cpsToJson(rl);
  }
  if (cjkMismatch.length) throw new Error(`the reference's Chinese-character ranges differ at ${rangesToJson(cjkMismatch).join(", ")}`);
  if (d.cccNonzero.length) throw new Error(`the reference has a non-zero combining class where Node has zero: ${rangesToJson(d.cccNonzero)}`);
  delete d.cccNonzero;
  const tkVersion = JSON.parse(readFileSync(createRequire(join(root, "package.json")).resolve("tokenizers/package.json"), "utf8")).version;
  const out = {
    comment:
      "Code points where Hugging Face's Rust tokenizer (BertNormalizer + BertPreTokenizer) differs from Node's Unicode " +
      "data; written by `node scripts/gen-unicode-tables.mjs --probe-reference`. Ranges are inclusive. " +
      "drop/keep/space: what cleaning does; punct/notPunct: punctuation splitting; mn/notMn: accent stripping; " +
      "cccZero: combining class 0 in the reference; decompositions: the reference's NFD (\"\" = none); " +
      "lowercase: the reference's lower-casing.",
    reference: `tokenizers ${tkVersion} (npm)`,
    node: process.version,
    unicode: process.versions.unicode,
  };
  for (const [k, v] of Object.entries(d)) out[k] = rangesToJson(v);
  out.decompositions = decompositions;
  out.lowercase = lowercase;
  return out;
}

// ---- the final tables ---------------------------------------------------------------------------

function buildTables(compat) {
  const set = (k) => rangesFromJson(compat[k]);
  const [drop, keep, space, punct, notPunct, mn, notMn, cccZero] =
    ["drop", "keep", "space", "punct", "notPunct", "mn", "notMn", "cccZero"].map(set);
  const decompOverride = new Map(Object.entries(compat.decompositions ?? {}).map(([k, v]) => [parseInt(k, 16), cpsFromJson(v)]));
  const lowerOverride = new Map(Object.entries(compat.lowercase ?? {}).map(([k, v]) => [parseInt(k, 16), cpsFromJson(v)]));

  const DROP = 1, SPACE = 2, PUNCT = 4, MN = 8;
  const classOf = new Uint8Array(MAX_CP + 1);
  const decompositions = []; // [cp, [cps]]
  const lowers = []; // [cp, [cps]]
  const cccNonzero = [];
  for (let c = 0; c <= MAX_CP; c++) {
    if (isSurrogate(c)) {
      classOf[c] = DROP; // never produced by the UTF-8 decoder; Cs is "other" in the reference
      continue;
    }
    let cl = nodeClean(c);
    if (drop.has(c)) cl = "drop";
    else if (keep.has(c)) cl = "keep";
    else if (space.has(c)) cl = "space";
    let f = cl === "drop" ? DROP : cl === "space" ? SPACE : 0;
    if ((nodePunct(c) && !notPunct.has(c)) || punct.has(c)) f |= PUNCT;
    if ((nodeMn(c) && !notMn.has(c)) || mn.has(c)) f |= MN;
    classOf[c] = f;
    const isHangulSyllable = c >= 0xac00 && c <= 0xd7a3; // decomposed algorithmically in C++
    const nd = decompOverride.has(c) ? decompOverride.get(c) : nodeNfd(c);
    const decomposes = nd.length > 0 && !(nd.length === 1 && nd[0] === c);
    if (decomposes && !isHangulSyllable) decompositions.push([c, nd]);
    if (!decomposes && !cccZero.has(c) && nodeCccNonzero(c)) cccNonzero.push(c);
    const nl = lowerOverride.has(c) ? lowerOverride.get(c) : nodeLower(c);
    if (!(nl.length === 1 && nl[0] === c)) lowers.push([c, nl]);
  }
  // Combining classes: JavaScript gives no numbers, but NFD sorts marks by class, so sorting the marks
  // with NFD as the comparison yields the classes' order; the rank (1..) stands in for the class.
  const cmp = (a, b) => {
    const x = String.fromCodePoint(a), y = String.fromCodePoint(b);
    if ((y + x).normalize("NFD") === x + y) return -1; // y x was reordered: ccc(x) < ccc(y)
    if ((x + y).normalize("NFD") === y + x) return 1;
    return 0;
  };
  const byClass = [...cccNonzero].sort((a, b) => cmp(a, b) || a - b);
  const rank = new Map();
  let r = 0;
  for (let i = 0; i < byClass.length; i++) {
    if (i === 0 || cmp(byClass[i - 1], byClass[i]) !== 0) r++;
    rank.set(byClass[i], r);
  }
  if (r > 255) throw new Error(`too many combining classes (${r})`);
  return { classOf, decompositions, lowers, rank, flags: { DROP, SPACE, PUNCT, MN } };
}

function emitCpp(t, compat) {
  const { DROP, SPACE, PUNCT, MN } = t.flags;
  // class ranges
  const classRanges = [];
  for (let c = 0; c <= MAX_CP; c++) {
    const f = t.classOf[c];
    if (classRanges.length && classRanges[classRanges.length - 1][2] === f && classRanges[classRanges.length - 1][1] === c - 1)
      classRanges[classRanges.length - 1][1] = c;
    else classRanges.push([c, c, f]);
  }
  const nonzeroClass = classRanges.filter((x) => x[2] !== 0);
  const flagName = (f) =>
    [[DROP, "kDrop"], [SPACE, "kSpace"], [PUNCT, "kPunct"], [MN, "kMn"]].filter(([b]) => f & b).map(([, n]) => n).join(" | ");
  // decompositions
  const pool = [];
  const decomp = t.decompositions.map(([c, cps]) => {
    const off = pool.length;
    pool.push(...cps);
    return [c, off, cps.length];
  });
  const maxDecomp = Math.max(3, ...t.decompositions.map(([, cps]) => cps.length));
  // combining-class ranks as ranges of equal rank
  const cccRanges = [];
  for (const c of [...t.rank.keys()].sort((a, b) => a - b)) {
    const rk = t.rank.get(c);
    const last = cccRanges[cccRanges.length - 1];
    if (last && last[1] === c - 1 && last[2] === rk) last[1] = c;
    else cccRanges.push([c, c, rk]);
  }
  // lower-case mappings: single code points as runs {first, count, stride, delta}; longer ones listed
  const single = t.lowers.filter(([, l]) => l.length === 1).map(([c, l]) => [c, l[0] - c]);
  const multi = t.lowers.filter(([, l]) => l.length !== 1);
  if (multi.some(([, l]) => l.length > 3)) throw new Error("a lower-case mapping longer than 3 code points");
  const runs = [];
  for (const [c, delta] of single) {
    const last = runs[runs.length - 1];
    if (last && last.delta === delta) {
      const next = last.first + last.count * last.stride;
      if (last.count === 1 && (c - last.first === 1 || c - last.first === 2)) {
        last.stride = c - last.first;
        last.count = 2;
        continue;
      }
      if (c === next) {
        last.count++;
        continue;
      }
    }
    runs.push({ first: c, count: 1, stride: 1, delta });
  }

  const rows = (items, perLine, fmt) => {
    const lines = [];
    for (let i = 0; i < items.length; i += perLine) lines.push("    " + items.slice(i, i + perLine).map(fmt).join(", ") + ",");
    return lines.join("\n");
  };
  const cjk = CJK_RANGES.map(([a, b]) => `{${hex(a)}, ${hex(b)}}`).join(", ");
  return `// unicode_tables.cpp: GENERATED by scripts/gen-unicode-tables.mjs; do not edit. Character data for the
// BERT normalizer (not the logic): Node ${process.version}'s Unicode ${process.versions.unicode} with the reference's differences
// from scripts/unicode-hf-compat.json (${compat.reference}).
#include "tokenizer/unicode_tables.h"

namespace electra::unicode {

const char* const kUnicodeVersion = "${process.versions.unicode} (HF tokenizers compatible)";

// Cleaning and splitting classes; code points not listed have none.
const ClassRange kClassRanges[] = {
${rows(nonzeroClass, 3, ([a, b, f]) => `{${hex(a)}, ${hex(b)}, ${flagName(f)}}`)}
};
const size_t kClassRangeCount = sizeof(kClassRanges) / sizeof(kClassRanges[0]);

// BERT's "Chinese characters": each becomes a word of its own.
const CpRange kCjkRanges[] = {${cjk}};
const size_t kCjkRangeCount = sizeof(kCjkRanges) / sizeof(kCjkRanges[0]);

// Full canonical decompositions (recursive), sorted by code point; Hangul syllables are algorithmic.
const Decomposition kDecompositions[] = {
${rows(decomp, 5, ([c, off, n]) => `{${hex(c)}, ${off}, ${n}}`)}
};
const size_t kDecompositionCount = sizeof(kDecompositions) / sizeof(kDecompositions[0]);
const uint32_t kDecompositionPool[] = {
${rows(pool, 10, hex)}
};
static_assert(kMaxDecomposition >= ${maxDecomp}, "kMaxDecomposition is too small");

// Canonical combining classes, as ranks that keep the classes' order (1 = lowest non-zero class).
const CccRange kCccRanges[] = {
${rows(cccRanges, 4, ([a, b, rk]) => `{${hex(a)}, ${hex(b)}, ${rk}}`)}
};
const size_t kCccRangeCount = sizeof(kCccRanges) / sizeof(kCccRanges[0]);

// Lower-case mappings to one code point: first, first+stride, ... (count of them) map to cp + delta.
const LowerRun kLowerRuns[] = {
${rows(runs, 4, (x) => `{${hex(x.first)}, ${x.count}, ${x.stride}, ${x.delta}}`)}
};
const size_t kLowerRunCount = sizeof(kLowerRuns) / sizeof(kLowerRuns[0]);
// Lower-case mappings to several code points.
const LowerMulti kLowerMultis[] = {
${rows(multi, 2, ([c, l]) => `{${hex(c)}, ${l.length}, {${l.map(hex).join(", ")}}}`)}
};
const size_t kLowerMultiCount = sizeof(kLowerMultis) / sizeof(kLowerMultis[0]);

}  // namespace electra::unicode
`;
}

const args = process.argv.slice(2);
if (args.includes("--probe-reference")) {
  const compat = probeReference();
  writeFileSync(compatPath, JSON.stringify(compat, null, 1) + "\n");
  console.log(`wrote ${compatPath}`);
} else if (args.includes("--check-reference")) {
  const fresh = probeReference();
  const committed = JSON.parse(readFileSync(compatPath, "utf8"));
  const strip = (o) => JSON.stringify({ ...o, comment: undefined, node: undefined, reference: undefined });
  if (strip(fresh) !== strip(committed)) {
    console.error(`${compatPath} is stale: run with --probe-reference`);
    process.exit(1);
  }
  console.log("unicode-hf-compat.json matches the reference");
} else {
  const compat = JSON.parse(readFileSync(compatPath, "utf8"));
  if (compat.unicode !== process.versions.unicode)
    console.warn(`note: the compat file was probed with Unicode ${compat.unicode}, this Node has ${process.versions.unicode}; re-probe`);
  const t = buildTables(compat);
  writeFileSync(outPath, emitCpp(t, compat));
  console.log(`wrote ${outPath}`);
}
