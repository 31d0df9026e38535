import { describe, expect, it, vi } from "vitest";

// Simulates a machine without bubblewrap: the grader must refuse, never run the code unsandboxed.
const runTests = vi.fn();
vi.mock("@infialign/verify", async (importOriginal) => ({
  ...(await importOriginal<typeof import("@infialign/verify")>()),
  sandboxAvailable: () => ({ ok: false, reason: "bwrap (bubblewrap) is not on PATH" }),
  runTests,
}));

describe("gradeCode without a sandbox", () => {
  it('returns correct:false with reason "sandbox_unavailable" and runs nothing', async () => {
    const { gradeCode } = await import("../src/grading/gradeCode.js");
    const grade = await gradeCode([{ input: "", output: "1\n", testtype: "stdin" }], "```python\nprint(1)\n```");
    expect(grade).toEqual({ correct: false, extracted: "print(1)\n", reason: "sandbox_unavailable" });
    expect(runTests).not.toHaveBeenCalled();
  });
});
