// One table per class of misjudged answers (issue 15): (gold, prediction, expected verdict).
// Each table holds cases that must match and cases that must not, so no fix can pass by
// accepting everything.
import { describe, expect, it } from "vitest";
import { extractAnswer, type MathReason, verifyMath } from "../src/math/index.js";

type Row = [gold: string, prediction: string, correct: boolean];

function table(rows: Row[]) {
  it.each(rows)("%s | %s → %s", (gold, prediction, correct) => {
    expect(verifyMath(gold, prediction), JSON.stringify(verifyMath(gold, prediction))).toMatchObject({ correct });
  });
}

describe("plain-text final answers after 'the answer is', 'Hence', 'Therefore'", () => {
  table([
    ["\\left( 3, \\frac{\\pi}{2} \\right)", "Converting, r = 3 and theta = pi/2. So the answer is (3, pi/2).", true],
    ["\\left( 3, \\frac{\\pi}{2} \\right)", "So the answer is (3, pi/4).", false],
    ["\\pi", "The period is therefore 2pi/2. So the answer is pi.", true],
    ["-\\frac{\\pi}{6}", "Hence the answer is -pi/6.", true],
    ["-\\frac{\\pi}{6}", "Hence the answer is pi/6.", false],
    ["\\frac{20000}{\\pi}", "So the answer is 20000/pi.", true],
    ["(5,\\infty)", "So the answer is (5, inf).", true],
    ["(5,\\infty)", "So the answer is [5, inf).", false],
    ["1 \\pm \\sqrt{19}", "Therefore the answer is x = 1 ± √19.", true],
    ["1 \\pm \\sqrt{19}", "Therefore the answer is x = 1 + √19.", false],
    ["1,-2", "Checking both, the answer is n = 1 and n = -2.", true],
    ["1,-2", "Checking both, the answer is n = 1 and n = 2.", false],
    ["(6,31,-1)", "Matching coefficients, the answer is p = 6, q = 31, r = -1.", true],
    ["(6,31,-1)", "Matching coefficients, the answer is p = 31, q = 6, r = -1.", false],
    ["(p,q,r) = (6,31,-1)", "The answer is q = 31, p = 6, r = -1.", true],
    ["(8,-2)", "The answer is P = (8, -2).", true],
    ["(8,-2)", "The answer is P = (-2, 8).", false],
    ["\\frac{2}{3}", "P(A) = (1/2) / (3/4) = 2/3. Therefore, the probability that Alice wins the game is 2/3.", true],
    ["12", "The divisors of 90 are 1, 2, 3, 5, 6, 9, 10, 15, 18, 30, 45, and 90. Therefore, there are 12 distinct sequences.", true],
    ["120", "Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.", true],
    ["34", "Final Answer: The largest $n$ is 34.", true],
    ["3", "So Sphere started 3 hours ago. Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct.", true],
    ["5", "We check that our answer is correct: the answer is 5.", true],
  ]);
});

describe("a #### line wins over the text before it; filler never belongs to the answer", () => {
  table([
    ["3", "Since 3>2, he buys choice B.\nThe answer is therefore 3.\n#### 3", true],
    ["8", "32 * 0.25 = <<32*0.25=8>>8 who own both.\nThe answer is <<8=8>>8.\n#### 8", true],
    ["120", "the final answer is 15 gallons * 8 pints / gallon = <<15*8=120>>120 pints\n#### 120", true],
    ["4", "The answer is therefore 3.\n#### 3", false],
    ["3", "The answer is therefore 3.", true],
    ["3", "The answer is thus simply 3.", true],
  ]);
  it("a markdown heading `#### Step 1` is not an answer line", () => {
    expect(extractAnswer("#### Step 1: add\n5 + 2 = 7\n#### Step 2: double\nThe result is $\\boxed{14}$.")?.answer).toBe("14");
    expect(extractAnswer("#### Step 1: add\n5 + 2 = 7\n#### Step 2: double\nSo the answer is 14.")?.answer).toBe("14");
  });
  it("strips filler from the extracted answer", () => {
    expect(extractAnswer("The answer is therefore 3.")?.answer).toBe("3");
  });
});

describe("number bases", () => {
  table([
    ["52_8", "So the answer is $\\boxed{52_{8}}$.", true],
    ["4210_{5}", "Therefore the number is $\\boxed{4210_5}$.", true],
    ["4210_{5}", "The digits are $\\boxed{4210}$.", true],
    ["1112112_3", "Thus the product is $\\boxed{1112122_3}$.", false],
    ["52_8", "So the answer is $\\boxed{52_{7}}$.", false],
    ["52_8", "In decimal that is $\\boxed{42}$.", false],
  ]);
});

describe("percent: x% equals x or x/100, both ways", () => {
  table([
    ["\\frac14", "The fraction is $\\boxed{25\\%}$.", true],
    ["\\dfrac{33}{100}", "So about $\\boxed{33\\%}$ of them.", true],
    ["25\\%", "$\\boxed{0.25}$", true],
    ["25\\%", "$\\boxed{25}$", true],
    ["28\\%", "The loss is 28 percent.", true],
    ["20\\%", "The final answer is $20 \\%$.", true],
    ["\\frac14", "The fraction is $\\boxed{20\\%}$.", false],
    ["25\\%", "$\\boxed{0.2}$", false],
    ["25\\%", "$\\boxed{2.5}$", false],
  ]);
});

describe("vectors and matrices", () => {
  table([
    ["\\begin{pmatrix} -18 \\\\ -49 \\\\ 96 \\end{pmatrix}", "The answer is $\\boxed{(-18, -49, 96)}$.", true],
    ["(-18,-49,96)", "$\\boxed{\\begin{pmatrix} -18 \\\\ -49 \\\\ 96 \\end{pmatrix}}$", true],
    ["\\begin{pmatrix} -18 \\\\ -49 \\\\ 96 \\end{pmatrix}", "The answer is $\\boxed{(-18, 96, -49)}$.", false],
    ["\\begin{pmatrix} 1/5 & 2/5 \\\\ 3/5 & 4/5 \\end{pmatrix}", "$\\boxed{\\frac{1}{5}\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}$", true],
    ["\\begin{pmatrix} 2 & 4 \\\\ 6 & 8 \\end{pmatrix}", "$\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix} \\cdot 2}$", true],
    ["\\begin{pmatrix} 2 & 4 \\\\ 6 & 8 \\end{pmatrix}", "$\\boxed{3\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}$", false],
    ["\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}", "The sum is $\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}$", true],
    ["\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "The matrix is $\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}$", false],
  ]);
});

describe("sets: set difference, unions, membership", () => {
  table([
    ["(0,9) \\cup (9,36)", "The domain is $\\boxed{(0, 36) \\setminus \\{9\\}}$.", true],
    ["(0,36) \\setminus \\{9\\}", "$\\boxed{(0,9) \\cup (9,36)}$", true],
    ["(0,9) \\cup (9,36)", "$\\boxed{(0, 36)}$", false],
    ["(0,9) \\cup (9,36)", "$\\boxed{(0, 36) \\setminus \\{8\\}}$", false],
    ["(3,4]", "So $\\boxed{\\lambda \\in (3, 4]}$.", true],
    ["(3,4]", "So $\\boxed{\\lambda \\in (3, 4)}$.", false],
    ["[0,2]", "$\\boxed{[0,1) \\cup [1,2]}$", true],
    ["(-\\infty,\\infty)", "The range is all real numbers, $\\boxed{\\mathbb{R}}$.", true],
    ["(2,12) \\cup (12,102)", "Thus, the answer is $x \\in \\boxed{(2,12) \\cup (12,102)}$", true],
  ]);
});

describe("symbolic equivalence samples signs and magnitudes", () => {
  table([
    ["x", "$\\boxed{|x|}$", false],
    ["|x|", "$\\boxed{x}$", false],
    ["x", "$\\boxed{\\sqrt{x^2}}$", false],
    ["|x|", "$\\boxed{\\sqrt{x^2}}$", true],
    ["\\sqrt{xy}", "$\\boxed{\\sqrt{x}\\sqrt{y}}$", true],
    ["\\ln(xy)", "$\\boxed{\\ln x + \\ln y}$", true],
    ["x^3", "$\\boxed{x \\cdot |x|^2}$", true],
    ["x^3", "$\\boxed{|x|^3}$", false],
    ["\\frac{x^2-1}{x-1}", "$\\boxed{x+1}$", true],
  ]);
});

describe("verdict names: exact rationals are equal_exact", () => {
  it.each<[string, string, MathReason]>([
    ["\\frac{1}{2}", "$\\boxed{0.5}$", "equal_exact"],
    ["\\frac{3}{6}", "$\\boxed{\\frac{1}{2}}$", "equal_exact"],
    ["(-\\infty,3)", "$\\boxed{x<3}$", "equal_exact"],
    ["\\frac{1}{3}", "$\\boxed{0.3333333}$", "equal_numeric"],
    ["(x+1)^2", "$\\boxed{x^2+2x+1}$", "equal_symbolic"],
    ["3", "$\\boxed{4}$", "unequal"],
    ["3", "I do not know.", "no_answer"],
    ["3", "$\\boxed{3 + )}$", "parse_error"],
  ])("%s | %s → %s", (gold, prediction, reason) => {
    expect(verifyMath(gold, prediction).reason).toBe(reason);
  });
});

describe("outputs without 'answer is' or a box: the last math environment, or the whole output", () => {
  table([
    ["\\frac{10}{9}", "\\frac{10}{9}", true],
    ["\\frac{1}{3}", "$\\dfrac{1}{3}$", true],
    ["\\frac{1}{3}", "$\\frac13$", true],
    ["13", "$\\frac13$", false],
    ["[0,1)", "$[0,1)$", true],
    ["[0,1)", "$[0,1]$", false],
    ["\\sqrt{3}", "$\\sqrt3$", true],
    ["3", "$\\sqrt3$", false],
    ["x \\ge 5", "$x \\geq 5$", true],
    ["5", "$x \\geq 5$", false],
    ["\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "The vector is $\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}$", true],
    ["2", "The vector is $\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}$", false],
    ["(1,\\infty)", "$$(1, +\\infty)$$", true],
    ["9", "Answer \\[ 9 \\]", true],
    ["10", "Answer \\( (9+1) \\)", true],
    ["\\frac{10}{9}", "Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $", true],
    ["\\frac{1}{3}", "$\\frac{1}{3} \\text{meters}$", true],
    ["\\frac{1}{3}", "$k = \\frac{1}{3}$", true],
    ["7", "It has $\\frac{1}{7}$ of the area.", false],
    ["p - q", "Swapping the sums,\n\\begin{align*}\nS &= \\sum_{n = 1}^\\infty \\frac{n - 1}{n^3} \\\\\n&= p - q.\n\\end{align*}", true],
    ["p + q", "Swapping the sums,\n\\begin{align*}\nS &= \\sum_{n = 1}^\\infty \\frac{n - 1}{n^3} \\\\\n&= p - q.\n\\end{align*}", false],
    ["17", "The sum is $x+y=8+9=17$.\n[asy]\nlabel(\"$C(7,4)$\",C,E);\n[/asy]", true],
    ["23", "Thus, the greatest common factor is $3 \\times 4 = 12$. Increased by 11 it is $12+11 = 23$.", true],
    ["12", "Thus, the greatest common factor is $3 \\times 4 = 12$. Increased by 11 it is $12+11 = 23$.", false],
    ["28", "Therefore, $$124+x+x=180,$$ which we can solve to obtain $x=28$.", true],
  ]);
  it("never takes a number out of the middle of a fraction", () => {
    expect(extractAnswer("the ratio is \\frac{10}{9} overall")?.answer).toBe("\\frac{10}{9}");
    expect(extractAnswer("\\frac{10}{9}")?.answer).toBe("\\frac{10}{9}");
  });
  it("a multi-line derivation or an unbalanced output is not itself the answer", () => {
    // A truncated scratchpad: its rows are steps, the unclosed box is not an expression.
    expect(verifyMath("18467", "8+7+1=16\n9+8+1=18\n\\boxed{1")).toMatchObject({ correct: false, reason: "unequal", extracted: "1" });
    expect(verifyMath("3", "1+2+0=3\n1+2")).toMatchObject({ correct: false, extracted: "2" });
    expect(extractAnswer("\\frac{1}{2")?.source).not.toBe("whole");
  });
});

describe("several boxes that together form the answer", () => {
  table([
    ["\\{1,2,3\\}", "The roots are $\\boxed{1}, \\boxed{2}, \\boxed{3}$.", true],
    ["(2,2), (6,2)", "The points are $\\boxed{(2,2)} \\text{and} \\boxed{(6,2)}$.", true],
    ["1,-2", "The integers are \\[ \\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}. \\]", true],
    ["$\\boxed{1}\\boxed{2}$", "$\\boxed{1,2}$", true],
    ["\\{1,2,3\\}", "The roots are $\\boxed{1}, \\boxed{2}$.", false],
    ["3", "First $\\boxed{5}$ was wrong; after checking every case the answer is $\\boxed{3}$.", true],
    ["\\frac{639}{40}", "Expressed as a fraction, $d = \\boxed{15\\frac{39}{40}},$ or $\\boxed{\\frac{639}{40}}$ inches.", true],
  ]);
});

describe("gold answers with labels against the bare value", () => {
  table([
    ["(p,q)=(3,2)", "So $\\boxed{(3,2)}$.", true],
    ["(p,q)=(3,2)", "So $\\boxed{(2,3)}$.", false],
    ["AB=4,CD=5", "$\\boxed{4, 5}$", true],
    ["AB=4,CD=5", "$\\boxed{4, 6}$", false],
    ["V_1:V_2=11:21", "$\\boxed{11:21}$", true],
    ["V_1:V_2=11:21", "$\\boxed{21:11}$", false],
    ["f(x)=1", "$\\boxed{1}$", true],
    ["f(x)=1", "$\\boxed{x}$", false],
    ["7 = 11a+c", "$11a+c$", false],
    ["2x + z = 1", "$1$", false],
  ]);
});

describe("words in \\text{} and letters", () => {
  table([
    ["\\text{odd}", "odd", true],
    ["odd", "So $g$ is $\\boxed{\\text{odd}}$.", true],
    ["\\text{odd}", "So the function is $\\boxed{\\text{even}}$.", false],
    ["\\text{E}", "$E$", true],
    ["\\text{(C)}", "$\\boxed{\\text{C}}$", true],
    ["\\text{E}", "$D$", false],
  ]);
});

describe("inequalities: \\geq, \\lt, >=, !=, flipped and negated", () => {
  table([
    ["x >= 5", "Therefore $x \\geq 5$ is the solution.", true],
    ["x < 3", "We find that $x \\lt 3$.", true],
    ["x \\leq 2", "Thus $x <= 2$ is our answer.", true],
    ["x != 3", "We find that $x \\neq 3$.", true],
    ["x \\leq 5", "$5 \\geq x$", true],
    ["x < 1", "$-x > -1$", true],
    ["x \\le 1", "$-x \\ge -1$", true],
    ["x > 5", "Therefore $x < 5$ is the solution.", false],
    ["x \\geq 5", "The solution is $x \\leq 5$", false],
    ["x < 1", "$x > -1$", false],
    ["x != 3", "We find that $x \\neq 4$.", false],
  ]);
});

describe("relation chains: the last exact term", () => {
  table([
    ["x = 1/3", "$x = 5+5+1 = 1/3 \\approx 11$", true],
    ["x = 11", "$x = 5+5+1 = 7 = 11$", true],
    ["1/3", "$x=1/3\\approx1.3$", true],
    ["11", "$x\\approx11$", true],
    ["z = 1 + 1 = 2", "$z = 3+3 = 2$", true],
    ["x = 11", "$x = 5+5+1 = 11 = 12$", false],
    ["1 = \\zzz = x = 0", "$0$", true],
  ]);
});

describe("Minerva-style final answers followed by chat-template garbage", () => {
  table([
    ["(0,1)", "The domain is the interval $(0, 1)$. Final Answer: The final answer is $(0, 1)$. I hope it is correct. <|im_start|>user", true],
    ["[0,1)", "The domain is the interval $(0, 1)$. Final Answer: The final answer is $(0, 1)$. I hope it is correct. <|im_start|>user", false],
    [
      "\\frac{5}{3}",
      "we find $b = \\boxed{\\frac{5}{3}}$. Final Answer: The final answer is $\\frac{5}{3}$. I hope it is correct. <|im_start|>userYes. <|im_start|>assistantWe get $x = \\boxed{8}$. Final Answer: The final answer is $8$.",
      true,
    ],
    ["220", "So its base prime representation is $\\boxed{220}$.\n\nQuestion:\nCompute $(1+i)^5$.\n\nMy solution: $\\boxed{4 - 20i}$", true],
    ["14", "Thus the final answer is $\\boxed{14}$\n\nNow is your turn. The question is:\nFind $c$.\n\nAnswer:\n\\boxed{7}", true],
    ["2", "So the answer is $\\boxed{2}$.<|im_end|>\n<|im_start|>user\n<tool_response>5</tool_response><|im_end|>\n<|im_start|>assistant\nSo it is $\\boxed{5}$.", false],
    ["4", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\nIt is $\\boxed{4}$.<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>", true],
  ]);
});

describe("escaping, spacing and number formats", () => {
  table([
    ["\\frac{1}{3}", "so the answer is \\\\boxed{\\\\frac{1}{3}}", true],
    ["1000", "$\\boxed{1\\,000}$", true],
    ["1000", "1 000", true],
    ["1\\,000", "$\\boxed{1 000}$", true],
    ["0.4", ".4", true],
    ["0.4", "Hence \\boxed{.4}", true],
    ["7:32", "The ratio is $\\boxed{7:32}$.", true],
    ["\\frac{7}{32}", "The ratio is $\\boxed{7:32}$.", true],
    ["7:32", "The ratio is $\\boxed{14:64}$.", true],
    ["7:32", "The ratio is $\\boxed{32:7}$.", false],
    ["2", "AZYUK2A", false],
    ["1000.99", "the number is not 10 which is 1,000.99€", true],
    ["1000.99", "not it's not 1,000.99 it's 10m²", false],
    ["7425000", "7,425,000", true],
    ["32349", "is $\\boxed{32, 349}$", false],
  ]);
});

describe("decimal commas (documented convention)", () => {
  table([
    ["1000.99", "1000,99", true],
    ["1,22", "1.22", false],
    ["-2,1", "\\boxed{-2.1}", false],
    ["0,111", "0.111", false],
    ["2.74", "Le total : 2,74 $", true],
    ["1, 22", "1.22", false],
    ["-2,1", "The roots are $\\boxed{1,-2}$.", true],
  ]);
});
