import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";
import { DataError } from "../errors.js";
import { QWEN25_CHAT_TEMPLATE } from "./templates/qwen25Template.js";

/** A chat message as chat templates see it; `tool_calls` and other keys pass through. */
export interface ChatTemplateMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateRenderInput {
  messages: readonly ChatTemplateMessage[];
  /** Tool (function) schemas, as in the OpenAI `tools` request field. */
  tools?: readonly unknown[];
  /** Append the header that opens the assistant's turn. @default false */
  add_generation_prompt?: boolean;
  /** Further template variables (`documents`, `enable_thinking`, special tokens…). */
  [key: string]: unknown;
}

const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"] as const;

/**
 * A Hugging Face chat template rendered as transformers' `apply_chat_template(tokenize=False)`
 * renders it. @huggingface/jinja already configures what transformers does: trim_blocks and
 * lstrip_blocks, dropping one trailing newline of the template, a `raise_exception` global
 * and `tojson` without ASCII escaping (`json.dumps(x, ensure_ascii=False)` separators).
 * This class adds the special tokens of a tokenizer_config.json as variables (transformers
 * passes `special_tokens_map`) and turns template errors into `DataError`s.
 * Known gap: JavaScript numbers do not remember `1.0` vs `1`, so `tojson` writes `1`
 * where Python writes `1.0`.
 */
export class ChatTemplate {
  private readonly template: Template;

  private constructor(
    readonly source: string,
    private readonly defaults: Readonly<Record<string, unknown>> = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new DataError("chat-template", `cannot parse the chat template: ${messageOf(error)}`, { cause: error });
    }
  }

  static fromString(src: string): ChatTemplate {
    return new ChatTemplate(src);
  }

  /**
   * Reads `chat_template` from a tokenizer_config.json: a string, or a list of
   * `{ name, template }` from which "default" is taken. Its special tokens become
   * template variables, as in transformers.
   */
  static fromTokenizerConfig(path: string): ChatTemplate {
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new DataError("chat-template", `cannot read tokenizer config "${path}": ${messageOf(error)}`, { cause: error });
    }
    const raw = config.chat_template;
    let src: string | undefined;
    if (typeof raw === "string") src = raw;
    else if (Array.isArray(raw)) {
      const named = raw.find((t): t is { name: string; template: string } => !!t && typeof t === "object" && t.name === "default" && typeof t.template === "string");
      src = named?.template;
      if (src === undefined) {
        const names = raw.map((t) => (t && typeof t === "object" ? String(t.name) : "?")).join(", ");
        throw new DataError("chat-template", `"${path}" has chat templates named ${names} but none named "default". Use ChatTemplate.fromString with the one you want.`);
      }
    }
    if (src === undefined) {
      throw new DataError("chat-template", `"${path}" has no "chat_template" field. Pass the template with ChatTemplate.fromString, or use a tokenizer_config.json that has one.`);
    }
    const defaults: Record<string, unknown> = {};
    for (const key of SPECIAL_TOKEN_KEYS) {
      const token = config[key];
      // Tokens are plain strings or AddedToken objects ({ content, … }).
      if (typeof token === "string") defaults[key] = token;
      else if (token && typeof token === "object" && typeof (token as { content?: unknown }).content === "string") defaults[key] = (token as { content: string }).content;
    }
    return new ChatTemplate(src, defaults);
  }

  /** The Qwen2.5 instruct/math template (ChatML with a default system prompt and tool calls). */
  static qwen25(): ChatTemplate {
    return new ChatTemplate(QWEN25_CHAT_TEMPLATE);
  }

  render(input: ChatTemplateRenderInput): string {
    const vars: Record<string, unknown> = { ...this.defaults, add_generation_prompt: false };
    // An absent key must stay undefined in the template (`{% if tools %}`), not become null.
    for (const [key, value] of Object.entries(input)) if (value !== undefined) vars[key] = value;
    try {
      return this.template.render(vars);
    } catch (error) {
      throw new DataError("chat-template", `rendering failed: ${messageOf(error)}`, { cause: error });
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
