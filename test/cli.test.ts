import { describe, expect, it } from "vitest";
import { runCli } from "./helpers.js";

describe("electra info", () => {
  it("prints version and engine facts", () => {
    const r = runCli(["info"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^electra \d+\.\d+\.\d+/);
    expect(r.stdout).toMatch(/cpu\s+(avx512|avx2|scalar)/);
  });
  it("--json gives the same as one JSON object", () => {
    const r = runCli(["info", "--json"]);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(["avx512", "avx2", "scalar"]).toContain(o.engine.isa);
    expect(o.engine.threads).toBeGreaterThanOrEqual(1);
    expect(typeof o.engine.cudaCompiled).toBe("boolean");
    expect(o.engine.cuda.compiled).toBe(o.engine.cudaCompiled);
    expect(Array.isArray(o.engine.cuda.devices)).toBe(true);
    // no device listed means a note saying why
    if (o.engine.cuda.devices.length === 0) expect(o.engine.cuda.note.length).toBeGreaterThan(0);
  });
});

describe("the command table", () => {
  it("rejects an unknown command with a non-zero exit", () => {
    const r = runCli(["frobnicate"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Unknown argument|electra --help/);
  });
  it("--help lists the commands", () => {
    const r = runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["prepare", "pretrain", "eval", "info"]) expect(r.stdout).toContain(c);
  });
});
