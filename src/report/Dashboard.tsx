// Dashboard.tsx: the Ink components of the terminal dashboard. Components receive props only.
import React from "react";
import { Box, Static, Text } from "ink";
import { formatDuration } from "./events.js";
import type { DashboardState } from "./state.js";

export function ProgressBar({ fraction, width = 30 }: { fraction: number; width?: number }) {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return (
    <Text>
      <Text color="green">{"█".repeat(full)}</Text>
      <Text dimColor>{"░".repeat(width - full)}</Text>
      <Text> {(100 * f).toFixed(1).padStart(5)}%</Text>
    </Text>
  );
}

/** A small text plot of a series (latest values on the right). */
export function Sparkline({ values, width = 50 }: { values: number[]; width?: number }) {
  if (values.length === 0) return <Text dimColor>(no data yet)</Text>;
  const ticks = "▁▂▃▄▅▆▇█";
  const step = Math.max(1, Math.ceil(values.length / width));
  const pts: number[] = [];
  for (let i = 0; i < values.length; i += step) pts.push(values.slice(i, i + step).reduce((a, b) => a + b, 0) / Math.min(step, values.length - i));
  const lo = Math.min(...pts), hi = Math.max(...pts);
  const line = pts.map((v) => ticks[hi > lo ? Math.round(((v - lo) / (hi - lo)) * 7) : 3]).join("");
  return (
    <Text>
      <Text color="cyan">{line}</Text>
      <Text dimColor> {lo.toPrecision(3)}..{hi.toPrecision(3)}</Text>
    </Text>
  );
}

export function PrepareView({ state }: { state: DashboardState }) {
  const p = state.prepare;
  if (!p) return null;
  const frac = p.totalBytes > 0 ? p.bytes / p.totalBytes : 0;
  return (
    <Box flexDirection="column">
      <Box>
        <ProgressBar fraction={frac} />
        <Text> ETA {formatDuration(p.etaSec)}</Text>
      </Box>
      <Text>
        {(p.bytes / 1e6).toFixed(1)} / {(p.totalBytes / 1e6).toFixed(1)} MB · {p.mbPerSec.toFixed(1)} MB/s · {p.lines} lines · {p.examples} examples
      </Text>
      <Text dimColor>{p.file}</Text>
    </Box>
  );
}

export function TrainView({ state }: { state: DashboardState }) {
  const s = state.step;
  if (!s) return null;
  const last = state.evals[state.evals.length - 1];
  return (
    <Box flexDirection="column">
      <Box>
        <ProgressBar fraction={s.totalSteps ? s.step / s.totalSteps : 0} />
        <Text>
          {" "}step {s.step}/{s.totalSteps} · {Math.round(s.tokensPerSec)} tok/s · elapsed {formatDuration(s.elapsedSec)} · ETA {formatDuration(s.etaSec)}
        </Text>
      </Box>
      <Text>
        loss <Text bold>{s.loss.toFixed(4)}</Text> (gen {s.genLoss.toFixed(4)}, disc {s.discLoss.toFixed(4)}) · lr {s.lr.toExponential(2)} · |g| {s.gradNorm.toFixed(2)}
      </Text>
      <Box>
        <Text>loss </Text>
        <Sparkline values={state.losses.map((l) => l.loss)} />
      </Box>
      <Box>
        <Text>disc </Text>
        <Sparkline values={state.losses.map((l) => l.discLoss)} />
      </Box>
      {last ? (
        <Box flexDirection="column" marginTop={1}>
          <Text bold>held-out @ step {last.step}</Text>
          {Object.entries(last.metrics).map(([k, v]) => (
            <Text key={k}>
              {"  "}
              {k.padEnd(24)} {Number.isInteger(v) ? v : v.toFixed(4)}
            </Text>
          ))}
        </Box>
      ) : null}
    </Box>
  );
}

export function FinetuneView({ state }: { state: DashboardState }) {
  const f = state.ft;
  if (!f || state.done) return null;
  return (
    <Box flexDirection="column">
      <Box>
        <ProgressBar fraction={f.totalSteps ? f.step / f.totalSteps : 0} />
        <Text>
          {" "}
          {f.task} · seed {f.seed} · epoch {f.epoch} · step {f.step}/{f.totalSteps} · loss {f.loss.toFixed(4)} · ETA {formatDuration(f.etaSec)}
        </Text>
      </Box>
    </Box>
  );
}

export function Dashboard({ state }: { state: DashboardState }) {
  return (
    <Box flexDirection="column">
      <Static items={state.logs}>{(l) => <Text key={l.id} color={l.warn ? "yellow" : undefined}>{l.text}</Text>}</Static>
      <Text bold>{state.title}</Text>
      <PrepareView state={state} />
      <TrainView state={state} />
      <FinetuneView state={state} />
    </Box>
  );
}
