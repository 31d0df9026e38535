import { itWhen } from "@infialign/test-utils/vitest";
import { sandboxAvailable } from "@infialign/verify";
import { describe, expect, it } from "vitest";
import { gradeChoice } from "../src/grading/gradeChoice.js";
import { extractPythonBlock, gradeCode } from "../src/grading/gradeCode.js";
import { gradeMath } from "../src/grading/gradeMath.js";

describe("gradeMath", () => {
  it.each([
    ["\\frac{1}{2}", "The answer is \\boxed{0.5}.", true],
    ["0.5", "\\boxed{\\frac12}", true],
    ["\\left( 3, \\frac{\\pi}{2} \\right)", "\\boxed{(3, \\pi/2)}", true],
    ["204", "<think>maybe \\boxed{100}</think> so \\boxed{204}", true],
    ["18", "Janet makes 9 * 2 = 18 dollars.\n#### 18", true],
    ["\\sqrt{2}/2", "\\boxed{\\frac{1}{\\sqrt{2}}}", true],
    ["27", "\\boxed{28}", false],
  ])("gold %s vs %j → %s", (gold, completion, correct) => {
    expect(gradeMath(gold, completion).correct).toBe(correct);
  });

  it("reports the verifier's reason codes and the extracted answer", () => {
    expect(gradeMath("\\frac{1}{2}", "\\boxed{0.5}")).toEqual({ correct: true, reason: "equal_exact", extracted: "0.5" });
    expect(gradeMath("4", "\\boxed{4}")).toEqual({ correct: true, reason: "equal_exact", extracted: "4" });
    expect(gradeMath("4", "\\boxed{5}")).toEqual({ correct: false, reason: "unequal", extracted: "5" });
    // Only reasoning, cut off inside <think>: nothing to grade.
    expect(gradeMath("4", "<think>the answer is \\boxed{4")).toMatchObject({ correct: false, reason: "no_answer" });
  });
});

describe("gradeChoice", () => {
  const choices = ["red", "green", "blue", "yellow"];
  it.each([
    ["Answer: C", "C", true],
    ["so the answer is (C).", "C", true],
    ["\\boxed{C}", "C", true],
    ["**C**", "C", true],
    ["Thinking...\nC", "C", true],
    ["<think>Answer: A</think>Answer: B", "B", true],
    ["Answer: D", "C", false],
    ["The answer is blue", "C", true],
  ])("%j with gold %s → %s", (completion, gold, correct) => {
    expect(gradeChoice(gold, completion, choices).correct).toBe(correct);
  });

  it("reports wrong choices, ambiguity and no answer", () => {
    expect(gradeChoice("C", "Answer: D", 4)).toEqual({ correct: false, reason: "wrong_choice", extracted: "D" });
    expect(gradeChoice("C", "I cannot decide.", 4)).toEqual({ correct: false, reason: "no_answer" });
    expect(gradeChoice("C", "\\boxed{C or D}", 4)).toMatchObject({ correct: false, reason: "ambiguous" });
    expect(gradeChoice("J", "the answer is (J)", 10)).toEqual({ correct: true, reason: "correct", extracted: "J" });
    // J is not a letter of a 4-option question.
    expect(gradeChoice("J", "the answer is (J)", 4).correct).toBe(false);
  });
});

describe("extractPythonBlock", () => {
  it("takes the last python block, else the last untagged one", () => {
    expect(extractPythonBlock("```python\na=1\n```\ntext\n```python\nb=2\n```")).toBe("b=2\n");
    expect(extractPythonBlock("```\nc=3\n```")).toBe("c=3\n");
    expect(extractPythonBlock("```py\nd=4\n```\n```\nnot this\n```")).toBe("d=4\n");
    expect(extractPythonBlock("<think>```python\nx=1\n```</think>no code")).toBeUndefined();
    expect(extractPythonBlock("```bash\nls\n```")).toBeUndefined();
  });
});

const sandbox = sandboxAvailable();
const sandboxMissing = sandbox.ok ? undefined : `the code sandbox cannot start: ${sandbox.reason}`;
const sum = [
  { input: "3\n1 2 3\n", output: "6\n", testtype: "stdin" as const },
  { input: "2\n-5 5\n", output: "0\n", testtype: "stdin" as const },
];

describe("gradeCode", () => {
  it("needs code and tests before running anything", async () => {
    expect(await gradeCode(sum, "no code here")).toEqual({ correct: false, reason: "no_code" });
    expect(await gradeCode([], "```python\nprint(1)\n```")).toMatchObject({ correct: false, reason: "no_tests" });
  });

  itWhen(sandboxMissing)("runs stdin tests in the sandbox", async () => {
    const good = "Here:\n```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```";
    expect(await gradeCode(sum, good)).toMatchObject({ correct: true });
    const wrong = "```python\nn = int(input())\nprint(n)\n```";
    expect(await gradeCode(sum, wrong)).toMatchObject({ correct: false, reason: "wrong_answer" });
    const crash = "```python\nraise SystemExit(3)\n```";
    expect(await gradeCode(sum, crash)).toMatchObject({ correct: false, reason: "runtime_error" });
  });

  itWhen(sandboxMissing)("runs functional tests with funcName", async () => {
    const tests = [{ input: "3", output: "6", testtype: "functional" as const }];
    const code = "```python\nclass Solution:\n    def double(self, x: int) -> int:\n        return 2 * x\n```";
    expect(await gradeCode(tests, code, { funcName: "double" })).toMatchObject({ correct: true });
  });
});
