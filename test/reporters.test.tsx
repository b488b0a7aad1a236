// Reporters fed recorded events: the Ink dashboard (ink-testing-library), plain lines and JSON lines.
import React from "react";
import { render } from "ink-testing-library";
import { describe, expect, it } from "vitest";
import { Dashboard } from "../src/report/Dashboard.js";
import type { WorkEvent } from "../src/report/events.js";
import { chooseReporter, formatDuration } from "../src/report/events.js";
import { consume, plainLine } from "../src/report/plain.js";
import { initialState, reduce } from "../src/report/state.js";

const prepareEvents: WorkEvent[] = [
  { type: "prepare-start", inputs: ["a.txt", "b.txt"], totalBytes: 20e6, outDir: "/out", vocab: "vocab.txt" },
  { type: "prepare-progress", file: "a.txt", bytes: 5e6, totalBytes: 20e6, lines: 1000, examples: 40, mbPerSec: 10, etaSec: 1.5 },
  { type: "prepare-progress", file: "b.txt", bytes: 15e6, totalBytes: 20e6, lines: 3000, examples: 120, mbPerSec: 12.5, etaSec: 0.4 },
];

const trainEvents: WorkEvent[] = [
  { type: "log", level: "info", message: "training tiny on /data" },
  ...[1, 2, 3, 4].map((s): WorkEvent => ({ type: "step", step: s * 10, totalSteps: 100, loss: 40 - s, genLoss: 9 - s, discLoss: 0.6 - s / 100, lr: 1e-4 * s, gradNorm: 2, tokensPerSec: 1234, elapsedSec: s * 10, etaSec: 100 - s * 10 })),
  { type: "eval", step: 40, metrics: { disc_accuracy: 0.93, mlm_accuracy: 0.21 } },
  { type: "checkpoint", step: 40, path: "/run/checkpoint-40" },
];

function fold(events: WorkEvent[], title = "t") {
  return events.reduce(reduce, initialState(title));
}

describe("the Ink dashboard", () => {
  it("shows prepare progress: bar, MB/s, ETA, current file", () => {
    const { lastFrame } = render(<Dashboard state={fold(prepareEvents, "electra prepare")} />);
    const f = lastFrame()!;
    expect(f).toContain("electra prepare");
    expect(f).toContain("75.0%");
    expect(f).toContain("12.5 MB/s");
    expect(f).toContain("ETA 00:00");
    expect(f).toContain("b.txt");
    expect(f).toContain("preparing 2 input(s)");
  });

  it("shows training: progress, losses, a plot, the latest evaluation and checkpoints", () => {
    const { lastFrame } = render(<Dashboard state={fold(trainEvents, "electra pretrain")} />);
    const f = lastFrame()!;
    expect(f).toContain("step 40/100");
    expect(f).toContain("1234 tok/s");
    expect(f).toContain("loss 36.0000");
    expect(f).toMatch(/[▁▂▃▄▅▆▇█]{2,}/);
    expect(f).toContain("disc_accuracy");
    expect(f).toContain("0.9300");
    expect(f).toContain("checkpoint @40: /run/checkpoint-40");
  });
});

describe("plain and JSON reporters", () => {
  it("print one line per event worth a line", async () => {
    const lines: string[] = [];
    await consume((async function* () { yield* trainEvents; })(), "plain", (l) => lines.push(l));
    expect(lines[0]).toBe("training tiny on /data");
    expect(lines[1]).toMatch(/^step 10\/100 loss 39\.0000 gen 8\.0000 disc 0\.5900 lr 1\.00e-4/);
    expect(lines.some((l) => l.startsWith("eval @40: disc_accuracy 0.9300"))).toBe(true);
    const json: string[] = [];
    await consume((async function* () { yield* prepareEvents; })(), "json", (l) => json.push(l));
    expect(json.map((l) => JSON.parse(l))).toEqual(prepareEvents);
  });

  it("never chooses Ink in CI or a pipe", () => {
    const tty = { isTTY: true } as NodeJS.WriteStream;
    const ci = process.env.CI;
    process.env.CI = "true";
    expect(chooseReporter(false, tty)).toBe("plain");
    delete process.env.CI;
    expect(chooseReporter(false, tty)).toBe("ink");
    expect(chooseReporter(false, { isTTY: false } as NodeJS.WriteStream)).toBe("plain");
    expect(chooseReporter(true, tty)).toBe("json");
    if (ci !== undefined) process.env.CI = ci;
  });

  it("format durations", () => {
    expect(formatDuration(65)).toBe("01:05");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(null)).toBe("--:--");
    expect(plainLine({ type: "prepare-done", outDir: "/o", manifest: {} })).toBe("prepare: done -> /o");
  });
});
