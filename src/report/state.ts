// state.ts: folds work events into the state a dashboard shows. Pure: no React, no I/O.
import type { EvalEvent, FinetuneStepEvent, PrepareProgressEvent, StepEvent, WorkEvent } from "./events.js";

export interface DashboardState {
  title: string;
  logs: { id: number; text: string; warn: boolean }[]; // finished lines: rendered once, never redrawn
  prepare?: PrepareProgressEvent & { outDir: string; inputs: number };
  step?: StepEvent;
  losses: { step: number; loss: number; genLoss: number; discLoss: number }[];
  evals: EvalEvent[];
  checkpoints: { step: number; path: string }[];
  ft?: FinetuneStepEvent;
  done: boolean;
}

export const initialState = (title: string): DashboardState => ({ title, logs: [], losses: [], evals: [], checkpoints: [], done: false });

const MAX_POINTS = 400;

export function reduce(s: DashboardState, e: WorkEvent): DashboardState {
  const log = (text: string, warn = false) => [...s.logs, { id: s.logs.length, text, warn }];
  switch (e.type) {
    case "log":
      return { ...s, logs: log(e.message, e.level === "warn") };
    case "prepare-start":
      return {
        ...s,
        logs: log(`preparing ${e.inputs.length} input(s), ${(e.totalBytes / 1e6).toFixed(1)} MB -> ${e.outDir}`),
        prepare: { type: "prepare-progress", file: e.inputs[0] ?? "", bytes: 0, totalBytes: e.totalBytes, lines: 0, examples: 0, mbPerSec: 0, etaSec: null, outDir: e.outDir, inputs: e.inputs.length },
      };
    case "prepare-progress":
      return { ...s, prepare: { ...(s.prepare ?? { outDir: "", inputs: 0 }), ...e } };
    case "prepare-done": {
      const m = e.manifest as { examples?: { train: number; eval: number }; tokens?: number };
      const p = s.prepare ? { ...s.prepare, bytes: s.prepare.totalBytes, etaSec: 0 } : undefined;
      return { ...s, prepare: p, done: true, logs: log(`prepared ${m.examples?.train ?? 0} training and ${m.examples?.eval ?? 0} held-out examples (${m.tokens ?? 0} tokens) in ${e.outDir}`) };
    }
    case "step": {
      const losses = [...s.losses, { step: e.step, loss: e.loss, genLoss: e.genLoss, discLoss: e.discLoss }];
      return { ...s, step: e, losses: losses.length > MAX_POINTS ? thin(losses) : losses };
    }
    case "eval":
      return { ...s, evals: [...s.evals, e] };
    case "checkpoint":
      return { ...s, checkpoints: [...s.checkpoints, { step: e.step, path: e.path }], logs: log(`checkpoint @${e.step}: ${e.path}`) };
    case "ft-step":
      return { ...s, ft: e };
    case "task-result":
      return { ...s, logs: log(`${e.task} (seed ${e.seed}, ${e.nTrain} train / ${e.nDev} dev): ` + Object.entries(e.metrics).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")) };
    case "done":
      return { ...s, done: true };
  }
}

// Keeps every other point of the older half, so a long run's curve stays bounded.
function thin<T>(a: T[]): T[] {
  const half = Math.floor(a.length / 2);
  return [...a.slice(0, half).filter((_, i) => i % 2 === 0), ...a.slice(half)];
}
