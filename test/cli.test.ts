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
