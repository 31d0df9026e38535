import { runCli } from "@infialign/test-utils";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/program.js";

const run = (argv: string[], input: string) => runCli(main, argv, input, (a) => a[0] === "math" || a[0] === "choice");

describe("infialign-verify CLI", () => {
  it("math: one verdict per line, in order, malformed lines included", async () => {
    const input = [
      JSON.stringify({ gold: "\\frac{1}{2}", prediction: "so $\\boxed{0.5}$" }),
      "{not json",
      JSON.stringify({ gold: "3" }),
      JSON.stringify({ gold: "3", prediction: "The answer is 4." }),
    ].join("\n");
    const { code, lines } = await run(["math"], input);
    expect(code).toBe(0);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({ correct: true, reason: "equal_exact", extracted: "0.5" });
    expect(lines[1]).toMatchObject({ correct: false, reason: "parse_error" });
    expect(lines[1]!.error).toMatch(/invalid JSON/);
    expect(lines[2]!.error).toMatch(/prediction/);
    expect(lines[3]).toMatchObject({ correct: false, reason: "unequal", extracted: "4" });
  });

  it("choice: letters with 4 or 10 options", async () => {
    const input = [
      JSON.stringify({ gold: "C", prediction: "The answer is (C)" }),
      JSON.stringify({ gold: "J", prediction: "Answer: J", options: 10 }),
      JSON.stringify({ gold: "A", prediction: "Answer: A", options: "four" }),
    ].join("\n");
    const { lines } = await run(["choice"], input);
    expect(lines[0]).toMatchObject({ correct: true, extracted: "C" });
    expect(lines[1]).toMatchObject({ correct: true, extracted: "J" });
    expect(lines[2]).toMatchObject({ correct: false, reason: "parse_error" });
  });

  it("prints help and rejects unknown commands", async () => {
    const help = await run(["--help"], "");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/infialign-verify math/);
    const bad = await run(["algebra"], "");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown command "algebra"/);
  });
});
