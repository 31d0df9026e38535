import { inflateSync } from "node:zlib";
import { bareMessage, benchmarkError, defined, optionalText, requireId, requireText } from "../benchmarkRecords.js";
import { readPickledString } from "../pickle.js";
import type { BenchmarkFormat, BenchmarkRecord, CodeTestCase } from "../types.js";

const HINT = 'Expected livecodebench/code_generation_lite JSONL records with "question_id", "question_title", "question_content", "contest_date", "public_test_cases", "private_test_cases", "metadata".';

/**
 * Contest-date windows of LiveCodeBench releases, `[from, to)` as ISO dates (LiveCodeBench `README.md`: v1 May 2023 –
 * Mar 2024, 400 problems; v2 → May 2024, 511; v3 → Jul 2024, 612; v4 → Sep 2024, 713; v5 → Jan 2025, 880; v6 → Apr
 * 2025, 1055). `vN` is the increment a release added (file `test{N}.jsonl`), `release_vN` everything up to it.
 */
export const LCB_RELEASE_WINDOWS: Record<string, readonly [string, string]> = {
  v1: ["2023-05-01", "2024-04-01"],
  v2: ["2024-04-01", "2024-06-01"],
  v3: ["2024-06-01", "2024-08-01"],
  v4: ["2024-08-01", "2024-10-01"],
  v5: ["2024-10-01", "2025-02-01"],
  v6: ["2025-02-01", "2025-05-01"],
};

/** Filters of a LiveCodeBench load. Each filter applies to `contest_date`; all given filters must hold. */
export interface LiveCodeBenchFilter {
  /**
   * Release: `release_v1`…`release_v6` (cumulative from May 2023), `v1`…`v6` (one release's increment) or `vA_vB`
   * (increments A through B, e.g. `v4_v5`, lighteval's `lcb:codegeneration` default). Date windows approximate the
   * release files; load the matching `test{N}.jsonl` files for exact membership. @default no release filter
   */
  release?: string;
  /** Earliest contest date, inclusive (`YYYY-MM-DD`). @default none */
  since?: string;
  /** Latest contest date, inclusive (`YYYY-MM-DD`). @default none */
  until?: string;
}

/** The `[from, to)` contest-date window of a release name; throws on an unknown name. */
export function releaseWindow(release: string): readonly [string, string] {
  const cumulative = /^release_(v[1-6])$/.exec(release);
  if (cumulative) return ["2023-05-01", (LCB_RELEASE_WINDOWS[cumulative[1] as string] as readonly [string, string])[1]];
  const range = /^(v[1-6])(?:_(v[1-6]))?$/.exec(release);
  if (range) {
    const a = LCB_RELEASE_WINDOWS[range[1] as string] as readonly [string, string];
    const b = LCB_RELEASE_WINDOWS[(range[2] ?? range[1]) as string] as readonly [string, string];
    if (b[1] > a[0]) return [a[0], b[1]];
  }
  throw benchmarkError(`livecodebench: unknown release "${release}"; expected release_v1…release_v6, v1…v6 or vA_vB with A ≤ B (e.g. v4_v5)`);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether a contest date (ISO, e.g. `2024-08-03T00:00:00`) passes the filter. */
export function matchesFilter(contestDate: string, filter: LiveCodeBenchFilter): boolean {
  const day = contestDate.slice(0, 10);
  if (filter.release !== undefined) {
    const [from, to] = releaseWindow(filter.release);
    if (day < from || day >= to) return false;
  }
  if (filter.since !== undefined && day < filter.since) return false;
  if (filter.until !== undefined && day > filter.until) return false;
  return true;
}

/** Checks a filter's values; throws naming the bad one. */
export function validateFilter(filter: Record<string, unknown>): LiveCodeBenchFilter {
  const unknown = Object.keys(filter).filter((k) => k !== "release" && k !== "since" && k !== "until");
  if (unknown.length > 0) throw benchmarkError(`livecodebench: unknown option(s) ${unknown.join(", ")}; the options are release, since, until`);
  if (filter.release !== undefined) {
    if (typeof filter.release !== "string") throw benchmarkError(`livecodebench: release must be a string such as "v4_v5", got ${JSON.stringify(filter.release)}`);
    releaseWindow(filter.release);
  }
  for (const key of ["since", "until"] as const) {
    const v = filter[key];
    if (v !== undefined && (typeof v !== "string" || !DATE.test(v))) throw benchmarkError(`livecodebench: ${key} must be a date YYYY-MM-DD, got ${JSON.stringify(v)}`);
  }
  return filter as LiveCodeBenchFilter;
}

/**
 * Decodes LiveCodeBench test cases: a JSON string (public tests, older private tests), or base64 → zlib → a pickle
 * holding a JSON string (`private_test_cases` of code_generation_lite). The pickle is read by `readPickledString`,
 * which understands only a pickled `str` and never executes anything. An empty string means no tests.
 */
export function decodeTestCases(value: unknown, what = "test cases"): CodeTestCase[] {
  if (value === undefined || value === null || value === "") return [];
  let parsed: unknown = value;
  if (typeof value === "string") {
    const text = value.trim();
    if (text.startsWith("[")) parsed = parseJson(text, what);
    else {
      let json: string;
      try {
        json = readPickledString(inflateSync(Buffer.from(text, "base64")));
      } catch (e) {
        throw benchmarkError(`livecodebench: ${what} are neither JSON nor base64 → zlib → pickle (${(e as Error).message})`, e);
      }
      parsed = parseJson(json, `${what} (unpickled)`);
    }
  }
  if (!Array.isArray(parsed)) throw benchmarkError(`livecodebench: ${what} must be a list of {input, output, testtype}, got ${typeof parsed}`);
  return parsed.map((t, i) => {
    const c = t as Record<string, unknown>;
    if (typeof c?.input !== "string" || typeof c.output !== "string" || (c.testtype !== "stdin" && c.testtype !== "functional")) {
      throw benchmarkError(`livecodebench: ${what}[${i}] must be {input: string, output: string, testtype: "stdin" | "functional"}, got ${JSON.stringify(t)?.slice(0, 120)}`);
    }
    return { input: c.input, output: c.output, testtype: c.testtype };
  });
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw benchmarkError(`livecodebench: ${what} are not valid JSON (${(e as Error).message})`, e);
  }
}

function funcNameOf(rec: BenchmarkRecord): string | undefined {
  const raw = rec.value.metadata;
  if (raw === undefined || raw === null || raw === "") return undefined;
  let meta: unknown = raw;
  if (typeof raw === "string") {
    try {
      meta = JSON.parse(raw);
    } catch (e) {
      throw benchmarkError(`${rec.where} has "metadata" that is not JSON (${(e as Error).message})`, e);
    }
  }
  const fn = (meta as Record<string, unknown> | null)?.func_name;
  return typeof fn === "string" && fn !== "" ? fn : undefined;
}

/**
 * LiveCodeBench `code_generation_lite` (JSONL or Parquet), filtered by contest date (options `release`, `since`,
 * `until`; names `livecodebench:<release>`). text = `question_title` + blank line + `question_content`, the statement a
 * model is shown; test cases and starter code are I/O data, not prose a training text would copy. The task's
 * statement is `question_content`, its tests the public then the private cases. Meta: `title`, `platform`,
 * `contestId`, `contestDate`, `difficulty`.
 */
export const liveCodeBenchFormat: BenchmarkFormat = {
  name: "livecodebench",
  kind: "code",
  label: "LiveCodeBench",
  expected: "JSON Lines records with question_id, question_title and question_content",
  // Records hold megabytes of hidden tests; the default 16 MiB record cap would reject some.
  maxRecordBytes: 512 * 1024 * 1024,
  options: (options) => validateFilter(options) as Record<string, unknown>,
  variant: (release) => validateFilter({ release }) as Record<string, unknown>,
  parse(rec, ctx) {
    const filter = ctx.options as LiveCodeBenchFilter;
    const filtered = filter.release !== undefined || filter.since !== undefined || filter.until !== undefined;
    // Parquet exports may carry the date as a timestamp rather than an ISO string.
    const rawDate = rec.value.contest_date;
    const contestDate =
      rawDate instanceof Date && !Number.isNaN(rawDate.getTime())
        ? rawDate.toISOString().slice(0, 19)
        : ctx.textOnly && !filtered
          ? optionalText(rec.value, "contest_date")
          : requireText(rec, "contest_date", HINT);
    if (contestDate !== undefined && !matchesFilter(contestDate, filter)) return undefined;
    const id = requireId(rec, "question_id", HINT);
    const statement = requireText(rec, "question_content", HINT);
    const title = optionalText(rec.value, "question_title");
    const meta = defined({
      title,
      platform: optionalText(rec.value, "platform"),
      contestId: optionalText(rec.value, "contest_id"),
      contestDate,
      difficulty: optionalText(rec.value, "difficulty"),
    });
    const text = title ? `${title}\n\n${statement}` : statement;
    if (ctx.textOnly) return { benchmark: ctx.benchmark, id, text, meta };
    let tests: CodeTestCase[];
    try {
      tests = [...decodeTestCases(rec.value.public_test_cases, "public_test_cases"), ...decodeTestCases(rec.value.private_test_cases, "private_test_cases")];
    } catch (e) {
      throw benchmarkError(`${rec.where} (question_id ${id}): ${bareMessage(e).replace(/^livecodebench: /, "")}`, e);
    }
    const funcName = funcNameOf(rec);
    if (funcName === undefined && tests.some((c) => c.testtype === "functional")) {
      throw benchmarkError(`${rec.where} (question_id ${id}) has functional tests but no "metadata" {"func_name": …}`);
    }
    const starterCode = optionalText(rec.value, "starter_code");
    return {
      benchmark: ctx.benchmark,
      id,
      text,
      meta,
      task: { kind: "code", statement, tests, ...(funcName !== undefined && { funcName }), ...(starterCode !== undefined && { starterCode }) },
    };
  },
};
