// events.ts: the typed events that long-running work (prepare, pretrain, eval) yields. Reporters
// (Ink on a terminal, plain lines in pipes and CI, JSON lines with --json) render the same stream;
// the work never imports a reporter.

export interface LogEvent {
  type: "log";
  level: "info" | "warn";
  message: string;
}

export interface PrepareStartEvent {
  type: "prepare-start";
  inputs: string[];
  totalBytes: number;
  outDir: string;
  vocab: string;
}
export interface PrepareProgressEvent {
  type: "prepare-progress";
  file: string;
  bytes: number; // bytes read so far, all files
  totalBytes: number; // 0 when unknown (stdin, .gz)
  lines: number;
  examples: number;
  mbPerSec: number;
  etaSec: number | null;
}
export interface PrepareDoneEvent {
  type: "prepare-done";
  outDir: string;
  manifest: Record<string, unknown>;
}

export interface StepEvent {
  type: "step";
  step: number;
  totalSteps: number;
  loss: number;
  genLoss: number;
  discLoss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  elapsedSec: number;
  etaSec: number | null;
}
export interface EvalEvent {
  type: "eval";
  step: number;
  metrics: Record<string, number>;
}
export interface CheckpointEvent {
  type: "checkpoint";
  step: number;
  path: string;
}
export interface DoneEvent {
  type: "done";
  summary: Record<string, unknown>;
}

export interface FinetuneStepEvent {
  type: "ft-step";
  task: string;
  seed: number;
  epoch: number;
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  elapsedSec: number;
  etaSec: number | null;
}
export interface TaskResultEvent {
  type: "task-result";
  task: string;
  seed: number;
  metrics: Record<string, number>; // e.g. {"mrpc:f1": 88.1, "mrpc:accuracy": 84.0}
  nTrain: number;
  nDev: number;
}

export type WorkEvent =
  | FinetuneStepEvent
  | TaskResultEvent
  | LogEvent
  | PrepareStartEvent
  | PrepareProgressEvent
  | PrepareDoneEvent
  | StepEvent
  | EvalEvent
  | CheckpointEvent
  | DoneEvent;

export type ReporterKind = "ink" | "plain" | "json";

/** Ink only on an interactive terminal outside CI; otherwise plain lines (or JSON with --json). */
export function chooseReporter(json: boolean, stream: NodeJS.WriteStream = process.stdout): ReporterKind {
  if (json) return "json";
  if (stream.isTTY && !process.env.CI) return "ink";
  return "plain";
}

export function formatDuration(sec: number | null | undefined): string {
  if (sec == null || !Number.isFinite(sec)) return "--:--";
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
