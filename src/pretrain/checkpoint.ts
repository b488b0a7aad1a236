// checkpoint.ts: run directories and their checkpoints. A checkpoint is written into a hidden
// temporary directory, every file fsynced, then renamed into place (atomic), so a crash at any
// moment leaves either the complete checkpoint or none. Layout of RUN/checkpoint-STEP/:
//   discriminator/  config.json model.safetensors vocab.txt tokenizer_config.json   (ElectraForPreTraining)
//   generator/      the same                                                        (ElectraForMaskedLM)
//   training_state.safetensors   optimizer moments + {step, data position, seed, ...} in its header
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import type { LoaderPosition, PretrainerHandle } from "../native/binding.js";

export interface TrainingState {
  format: "electra-training-state";
  version: 1;
  step: number; // optimizer steps done
  position: LoaderPosition; // where the next batch starts
  seed: number;
  configHash: string;
  elapsedSec: number;
}

const CKPT = /^checkpoint-(\d+)$/;

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeSynced(path: string, text: string): void {
  writeFileSync(path, text);
  fsyncPath(path);
}

export function listCheckpoints(runDir: string): { step: number; path: string }[] {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir)
    .map((n) => CKPT.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), path: join(runDir, m[0]) }))
    .sort((a, b) => a.step - b.step);
}

/** Removes temporary directories that an interrupted save left behind. */
export function cleanPartial(runDir: string): number {
  let n = 0;
  if (!existsSync(runDir)) return 0;
  for (const name of readdirSync(runDir))
    if (/^\.checkpoint-\d+\.tmp-\d+$/.test(name)) {
      rmSync(join(runDir, name), { recursive: true, force: true });
      n++;
    }
  return n;
}

export function saveCheckpoint(
  runDir: string,
  trainer: PretrainerHandle,
  state: TrainingState,
  vocabFile: string,
  tokenizer: { lowerCase: boolean; maxLength: number },
  keep: number,
): string {
  const final = join(runDir, `checkpoint-${state.step}`);
  const tmp = join(runDir, `.checkpoint-${state.step}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const disc = join(tmp, "discriminator"), gen = join(tmp, "generator");
  trainer.saveModels(disc, gen); // each file written atomically and fsynced by the engine
  const tokCfg = JSON.stringify({ do_lower_case: tokenizer.lowerCase, model_max_length: tokenizer.maxLength, tokenizer_class: "ElectraTokenizer" }, null, 2) + "\n";
  for (const d of [disc, gen]) {
    if (!existsSync(d)) continue;
    copyFileSync(vocabFile, join(d, "vocab.txt"));
    chmodSync(join(d, "vocab.txt"), 0o644);
    fsyncPath(join(d, "vocab.txt"));
    writeSynced(join(d, "tokenizer_config.json"), tokCfg);
    fsyncPath(d);
  }
  trainer.saveState(join(tmp, "training_state.safetensors"), JSON.stringify(state));
  fsyncPath(tmp);
  if (existsSync(final)) rmSync(final, { recursive: true, force: true }); // the same step saved again
  renameSync(tmp, final);
  fsyncPath(runDir);
  const all = listCheckpoints(runDir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) rmSync(c.path, { recursive: true, force: true });
  return final;
}
