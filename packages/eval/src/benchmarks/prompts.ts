// Prompt templates, one per benchmark family, each from the harness whose numbers we compare against.
import type { ChatTemplateMessage } from "@infialign/data";

/**
 * DeepSeek-R1's math instruction (DeepSeek-R1 `README.md` "Usage Recommendations": no system prompt; for math,
 * "Please reason step by step, and put your final answer within \boxed{}."), appended to the problem.
 */
export const R1_MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}.";

/** R1 math prompt: one user message, problem then instruction, no system prompt. */
export function mathPrompt(problem: string): ChatTemplateMessage[] {
  return [{ role: "user", content: `${problem.trim()}\n\n${R1_MATH_INSTRUCTION}` }];
}

/** Option letters A…J (MMLU-Pro has up to 10 options). */
export const CHOICE_LETTERS = "ABCDEFGHIJ";

/**
 * GPQA prompt of lighteval's `gpqa:diamond` instruct task (`src/lighteval/tasks/tasks/gpqa.py`, the simple-evals
 * template): instruction with the "Answer: $LETTER" line, question, then `A) …` to `D) …`.
 */
export function gpqaPrompt(question: string, choices: readonly string[]): ChatTemplateMessage[] {
  const letters = CHOICE_LETTERS.slice(0, choices.length);
  const options = choices.map((c, i) => `${letters[i]}) ${c}`).join("\n");
  const content = `Answer the following multiple choice question. The last line of your response should be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ${letters}. Think step by step before answering.\n\n${question.trim()}\n\n${options}`;
  return [{ role: "user", content }];
}

/**
 * MMLU-Pro zero-shot CoT prompt after the official `evaluate_from_local.py` (TIGER-AI-Lab/MMLU-Pro): the per-subject
 * header with the `the answer is (X)` instruction, `Question:`, `Options:` lettered `A.` to `J.`, and
 * `Answer: Let's think step by step.` (the official run prepends 5 CoT examples of the category; we send none,
 * as reasoning models are evaluated zero-shot).
 */
export function mmluProPrompt(question: string, options: readonly string[], category: string): ChatTemplateMessage[] {
  const subject = category.trim() === "" ? "" : ` about ${category.trim()}`;
  const lines = options.map((o, i) => `${CHOICE_LETTERS[i]}. ${o}`).join("\n");
  const content = `The following are multiple choice questions (with answers)${subject}. Think step by step and then finish your answer with "the answer is (X)" where X is the correct letter choice.\n\nQuestion:\n${question.trim()}\nOptions:\n${lines}\nAnswer: Let's think step by step.`;
  return [{ role: "user", content }];
}

// LiveCodeBench `lcb_runner/prompts/code_generation.py`: SYSTEM_MESSAGE_GENERIC and the two format messages.
const LCB_SYSTEM =
  "You are an expert Python programmer. You will be given a question (problem specification) and will generate a correct Python program that matches the specification and passes all tests.";
const LCB_WITH_STARTER = "You will use the following starter code to write the solution to the problem and enclose your code within delimiters.";
const LCB_STDIN =
  "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.";

/**
 * LiveCodeBench's official generic prompt (`get_generic_question_template_answer`): `### Question:`, then the starter
 * code or the stdin format note with a ```python``` block, then `### Answer:`. Its system message opens the user
 * message instead, since the R1 protocol sends no system prompt.
 */
export function liveCodeBenchPrompt(questionContent: string, starterCode?: string): ChatTemplateMessage[] {
  let content = `${LCB_SYSTEM}\n\n### Question:\n${questionContent}\n\n`;
  if (starterCode && starterCode.trim() !== "") content += `### Format: ${LCB_WITH_STARTER}\n\`\`\`python\n${starterCode}\n\`\`\`\n\n`;
  else content += `### Format: ${LCB_STDIN}\n\`\`\`python\n# YOUR CODE HERE\n\`\`\`\n\n`;
  content += "### Answer: (use the provided format with backticks)\n\n";
  return [{ role: "user", content }];
}
