// plain.ts: reporters for pipes and CI: one plain line per event worth a line, or JSON lines.
import { formatDuration, type WorkEvent } from "./events.js";

export type Write = (line: string) => void;

export function plainLine(e: WorkEvent): string | null {
  switch (e.type) {
    case "log":
      return e.level === "warn" ? `warning: ${e.message}` : e.message;
    case "prepare-start":
      return `prepare: ${e.inputs.length} input(s), ${(e.totalBytes / 1e6).toFixed(1)} MB -> ${e.outDir} (vocab ${e.vocab})`;
    case "prepare-progress": {
      const pct = e.totalBytes > 0 ? ` ${((100 * e.bytes) / e.totalBytes).toFixed(1)}%` : "";
      return `prepare:${pct} ${(e.bytes / 1e6).toFixed(1)} MB, ${e.lines} lines, ${e.examples} examples, ${e.mbPerSec.toFixed(1)} MB/s, ETA ${formatDuration(e.etaSec)}`;
    }
    case "prepare-done":
      return `prepare: done -> ${e.outDir}`;
    case "step":
      return (
        `step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(4)} gen ${e.genLoss.toFixed(4)} disc ${e.discLoss.toFixed(4)} ` +
        `lr ${e.lr.toExponential(2)} |g| ${e.gradNorm.toFixed(2)} ${Math.round(e.tokensPerSec)} tok/s ` +
        `elapsed ${formatDuration(e.elapsedSec)} ETA ${formatDuration(e.etaSec)}`
      );
    case "eval":
      return `eval @${e.step}: ` + Object.entries(e.metrics).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(", ");
    case "checkpoint":
      return `checkpoint @${e.step}: ${e.path}`;
    case "ft-step":
      return `${e.task} seed ${e.seed} epoch ${e.epoch} step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} elapsed ${formatDuration(e.elapsedSec)} ETA ${formatDuration(e.etaSec)}`;
    case "task-result":
      return `${e.task} seed ${e.seed}: ` + Object.entries(e.metrics).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
    case "done":
      return "done";
  }
}

/** Consumes the events, printing plain lines (or JSON lines). Returns the last event. */
export async function consume(events: AsyncIterable<WorkEvent>, mode: "plain" | "json", write: Write = (l) => process.stdout.write(l + "\n")): Promise<WorkEvent | undefined> {
  let last: WorkEvent | undefined;
  for await (const e of events) {
    last = e;
    if (mode === "json") write(JSON.stringify(e));
    else {
      const line = plainLine(e);
      if (line !== null) write(line);
    }
  }
  return last;
}
