import { describe, expect, test } from "vitest";
import { compiledProgramArgs } from "../../scripts/program-args";
import { beforeEntry, extraNodeArgs } from "../fault/support/services";

/** The extra `node` arguments the benchmarks and the fault suite give one program (docs/benchmarks.md, "How to run"). */
describe("BENCH_NODE_ARGS_<PROGRAM>", () => {
  test("names the program in capitals with `_` for `-`, and splits its value at spaces", () => {
    const env = { BENCH_NODE_ARGS_EXECUTION_WORKER: " --trace-gc   --max-semi-space-size=8 ", BENCH_NODE_ARGS_AUDIT: "--inspect=127.0.0.1:9340" };
    expect(extraNodeArgs("execution-worker", env)).toEqual(["--trace-gc", "--max-semi-space-size=8"]);
    expect(extraNodeArgs("audit", env)).toEqual(["--inspect=127.0.0.1:9340"]);
    expect(extraNodeArgs("gateway", env)).toEqual([]);
    expect(extraNodeArgs("dev-model", { BENCH_NODE_ARGS_DEV_MODEL: "   " })).toEqual([]);
  });

  test("come after the program's own flags, so a flag given again wins, and before its entry point", () => {
    const own = compiledProgramArgs("/srv/dist", "audit");
    const args = beforeEntry(own, ["--max-semi-space-size=32"]);
    expect(args.at(-1)).toBe("/srv/dist/audit/main.js");
    expect(args.at(-2)).toBe("--max-semi-space-size=32");
    expect(args.indexOf("--max-semi-space-size=8")).toBeLessThan(args.indexOf("--max-semi-space-size=32"));
    expect(args.slice(0, -2)).toEqual(own.slice(0, -1));
  });
});
