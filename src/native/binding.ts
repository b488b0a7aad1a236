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
  cuda: CudaInfo;
}

/** The CUDA backend: whether it was built, and the devices the runtime sees (none without a driver). */
export interface CudaInfo {
  compiled: boolean;
  /** e.g. 13000 for CUDA 13.0; 0 when not compiled */
  runtimeVersion: number;
  /** the driver's CUDA version; 0 when there is no driver */
  driverVersion: number;
  devices: { index: number; name: string; computeCapability: string; memoryBytes: number; multiprocessors: number }[];
  /** why there are no devices, when there are none */
  note: string;
}

/** A batch of packed sequences, row-major (batchSize, seqLen). */
export interface BatchInput {
  inputIds: Int32Array;
  tokenTypeIds?: Int32Array | null;
  attentionMask?: Int32Array | null;
  batchSize: number;
  seqLen: number;
}

/** Losses and metric counts of one optimizer step (counts summed over micro-batches). */
export interface StepStats {
  step: number;
  loss: number;
  genLoss: number;
  discLoss: number;
  lr: number;
  gradNorm: number;
  mlmWeight: number;
  mlmCorrect: number;
  sampledCorrect: number;
  tokens: number;
  discCorrect: number;
  discTp: number;
  discFp: number;
  discFn: number;
  replaced: number;
}

/** A discriminator (ElectraForPreTraining) loaded from a Hugging Face model directory. */
export interface DiscriminatorHandle {
  /** Per-token "replaced" logits, (batchSize, seqLen). */
  logits(batch: BatchInput): Promise<Float32Array>;
  /** The model's config.json as the engine understood it (JSON text). */
  readonly config: string;
  /** Tensors in the file that the model does not use (e.g. a classifier head). */
  readonly unexpected: string[];
}

export interface PretrainerHandle {
  initWeights(range?: number): void;
  /** One optimizer step; gradients are accumulated over the given micro-batches. */
  trainStep(batches: BatchInput[]): Promise<StepStats>;
  /** Writes discriminator/ and generator/ Hugging Face directories (config.json + model.safetensors). */
  saveModels(discriminatorDir: string, generatorDir: string): void;
  /** Optimizer moments (safetensors) with `metadataJson` in the header. */
  saveState(path: string, metadataJson: string): void;
  /** Restores the moments; returns the metadata JSON saved with them. */
  loadState(path: string): string;
  /** Weights from Hugging Face directories (either may be null); returns unexpected tensor names. */
  loadModels(discriminatorDir: string | null, generatorDir: string | null): string[];
  /** Losses and metrics on a batch without dropout or updates; `salt` picks the masking. */
  evaluate(batch: BatchInput, salt: number): Promise<StepStats & { discLogits: Float32Array; discLabels: Int32Array }>;
  /** Sets the optimizer step (the schedule and the random streams follow it). */
  setStep(step: number): void;
  readonly numParams: number;
  readonly step: number;
}

export interface LoaderPosition {
  epoch: number;
  shard: number;
  example: number;
}

export interface LoadedBatch extends BatchInput {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  /** the position after this batch */
  position: LoaderPosition;
}

/** native/addon/loader_binding.cpp: batches from shards, two-level shuffled per epoch. */
export interface ShardLoaderHandle {
  next(batchSize: number): Promise<LoadedBatch>;
  seek(position: LoaderPosition): void;
  readonly position: LoaderPosition;
  readonly seqLen: number;
  readonly examples: number;
  readonly vocabHash: string;
}

export interface FineTunerHandle {
  initWeights(range?: number): void;
  trainStep(batch: BatchInput, labels: Int32Array | null, targets?: Float32Array | null): Promise<StepStats>;
  /** Logits (batchSize, numLabels) without dropout. */
  predict(batch: BatchInput): Promise<Float32Array>;
  /** Loads the encoder from a Hugging Face directory (e.g. a discriminator); returns unused tensor names. */
  loadEncoder(modelDir: string): string[];
  /** Writes an ElectraForSequenceClassification directory; `extraConfig` fields join config.json. */
  save(dir: string, extraConfig?: Record<string, unknown>): void;
}

/** Counts from an encode call (native/tokenizer/wordpiece.h EncodeStats). */
export interface TokenizeStats {
  /** lines encoded (encodeLines, tokenizeStream; 0 for encodeBatch) */
  lines: number;
  /** input bytes */
  bytes: number;
  /** ids produced */
  tokens: number;
  /** [UNK] ids produced */
  unknown: number;
  /** invalid UTF-8 sequences, replaced by U+FFFD and dropped */
  invalidUtf8: number;
}

/** Ids of several texts: text i has ids.subarray(offsets[i], offsets[i + 1]). */
export interface EncodedBatch {
  ids: Int32Array;
  offsets: Float64Array;
  stats: TokenizeStats;
}

export interface TokenizeStreamOptions {
  /** write wordpieces instead of ids */
  tokens: boolean;
  /** encoding threads; 0 = the engine's default */
  threads: number;
  /** names for error messages */
  inName: string;
  outName: string;
  /** bytes read per step (default 4 MiB) */
  chunkBytes?: number;
}

/** native/addon/tokenizer_binding.cpp: BERT's WordPiece tokenizer (ids of HF BertTokenizerFast, no [CLS]/[SEP]). */
export interface NativeWordPieceTokenizer {
  readonly vocabSize: number;
  readonly lowerCase: boolean;
  readonly specialIds: { pad: number; unk: number; cls: number; sep: number; mask: number };
  /** Ids of one text, on the calling thread. A Uint8Array is read as UTF-8. */
  encode(text: string | Uint8Array): Int32Array;
  /** The words after normalization and pre-tokenization, before WordPiece. */
  preTokenize(text: string | Uint8Array): string[];
  /** Ids of each text, off the main thread. */
  encodeBatch(texts: Array<string | Uint8Array>, threads?: number): Promise<EncodedBatch>;
  /** Ids of each '\n'-separated line of UTF-8 text, off the main thread. */
  encodeLines(text: Uint8Array, threads?: number): Promise<EncodedBatch>;
  /** Reads inFd to its end and writes one line of ids (or wordpieces) per input line to outFd. */
  tokenizeStream(inFd: number, outFd: number, options: TokenizeStreamOptions): Promise<TokenizeStats>;
  /** Throws for an id outside the vocabulary. */
  idToToken(id: number): string;
  /** -1 when absent. */
  tokenToId(token: string): number;
}

/** Options of a native VocabTrainer (native/tokenizer/vocab_trainer.h VocabTrainerOptions). */
export interface NativeVocabTrainerOptions {
  /** BERT uncased: lower-case and strip accents before counting (default true) */
  lowerCase?: boolean;
  /** entries wanted, special tokens included (default 30522) */
  vocabSize?: number;
  /** a pair merges only if it occurs at least this often (default 2) */
  minFrequency?: number;
  /** characters kept, most frequent first; 0: all (default 1000) */
  limitAlphabet?: number;
  /** default [PAD], [UNK], [CLS], [SEP], [MASK] (ids 0..4) */
  specialTokens?: string[];
  /** characters always in the alphabet, even if unseen */
  initialAlphabet?: string;
  /** parity tests only: the order of the "##c" entries (default: code point order) */
  continuationOrder?: string[];
  /** counting threads; 0 = the engine's default */
  threads?: number;
}

/** Word counts so far (native WordCountStats). */
export interface VocabCountStats {
  bytes: number;
  /** words after BERT's normalizer and pre-tokenizer */
  words: number;
  distinctWords: number;
  /** invalid UTF-8 sequences, replaced by U+FFFD and dropped */
  invalidUtf8: number;
}

/** What VocabTrainer.finish() gives: the vocabulary in id order and how it was made. */
export interface NativeVocabResult {
  tokens: string[];
  special: number;
  alphabet: number;
  /** "##c" entries */
  continuation: number;
  /** entries made by merges */
  merged: number;
  /** merges done (a merge that re-creates an existing entry adds none) */
  mergeSteps: number;
  /** frequency of the last pair merged (0: none) */
  lastFrequency: number;
  /** why merging stopped: the size was reached, no pair was left, or none occurred minFrequency times */
  stop: "size" | "no-pairs" | "min-frequency";
  stats: VocabCountStats;
}

/** native/addon/vocab_binding.cpp: WordPiece vocabulary training (HF WordPieceTrainer's algorithm). One call at a time. */
export interface NativeVocabTrainer {
  /** Counts the words of UTF-8 bytes cut anywhere (copied; text after the last whitespace waits for the next feed). */
  feed(bytes: Uint8Array): Promise<void>;
  /** The end of one input file: no word joins the next input. */
  endInput(): Promise<void>;
  /** Trains; with outPath, writes vocab.txt there atomically. The trainer cannot be fed afterwards. */
  finish(outPath?: string): Promise<NativeVocabResult>;
  /** Counts so far; null while a call is running or after finish(). */
  readonly stats: VocabCountStats | null;
}

/** Totals of a PrepareWriter so far. */
export interface PrepareStats {
  files: number;
  bytes: number;
  lines: number;
  blankLines: number;
  documents: number;
  tokens: number;
  unknown: number;
  invalidUtf8: number;
  trainExamples: number;
  evalExamples: number;
  /** shard file names written so far, relative to the output directory */
  shards: string[];
}

/** native/addon/prepare_binding.cpp: bytes in, ELECTRA-packed shards out. Calls must be sequential. */
export interface PrepareWriterHandle {
  beginFile(name: string, jsonl: boolean, textField: string): void;
  feed(bytes: Uint8Array): Promise<PrepareStats>;
  endFile(): Promise<PrepareStats>;
  /** Writes the last, partial shards. */
  finish(): Promise<PrepareStats>;
}

export interface ShardInfo {
  version: number;
  idBytes: number;
  seqLen: number;
  examples: number;
  vocabHash: string;
}

/** The native module's exports. Each binding file in native/addon adds its own part. */
export interface NativeBinding {
  engineInfo(): EngineInfo;
  setThreads(n: number): void;
  /** Per-kernel wall-clock timing: profile(true) clears the table and starts; profile(false) stops.
   * Either returns the table so far (largest first): kernel name (with its shape for matmuls), ms, calls. */
  profile(on: boolean): { name: string; ms: number; calls: number }[];
  /** precision: of the matrix products, "fp32" (default) or "bf16" */
  Discriminator: new (modelDir: string, precision?: "fp32" | "bf16") => DiscriminatorHandle;
  /** Options: JSON of {discriminator, generator, objective, mask_prob, gen_weight, disc_weight,
   * temperature, special_ids, lr, warmup_steps, total_steps, weight_decay, clip_norm, seed,
   * precision ("fp32" | "bf16")}. */
  Pretrainer: new (optionsJson: string) => PretrainerHandle;
  /** Reads every shard once (checksums) and streams batches; throws naming a bad shard. */
  ShardLoader: new (files: string[], seed: number, shuffle?: boolean) => ShardLoaderHandle;
  /** Options: JSON of {model, num_labels, head, classifier_dropout, lr, warmup_steps, total_steps, seed,
   * layerwise_lr_decay, layerwise_mode ("electra" | "corrected"), weight_decay, clip_norm, adam_epsilon,
   * precision ("fp32" | "bf16")}. */
  FineTuner: new (optionsJson: string) => FineTunerHandle;
  /** Options: JSON of {out_dir, max_seq_length, seed, examples_per_shard, eval_fraction, max_eval_examples, threads}. */
  PrepareWriter: new (vocabPath: string, lowerCase: boolean, optionsJson: string) => PrepareWriterHandle;
  /** FNV-1a 64 of a file's bytes, 16 hex digits. */
  fileHash(path: string): string;
  /** Reads and fully validates a shard (checksum included); throws naming the file. */
  shardInfo(path: string): ShardInfo;
  /** Loads a vocabulary file (one entry per line); throws an Error naming the file on a bad vocabulary. */
  WordPieceTokenizer: new (vocabPath: string, lowerCase: boolean) => NativeWordPieceTokenizer;
  /** Throws a RangeError / TypeError on a bad option. */
  VocabTrainer: new (options: NativeVocabTrainerOptions) => NativeVocabTrainer;
  /** The Unicode version of the tokenizer's character tables. */
  tokenizerUnicodeVersion(): string;
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
