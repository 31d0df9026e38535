import type { Deadline } from "./deadline.js";

/*
 * A small hand-written LaTeX parser. @cortex-js/compute-engine 0.140 was measured first:
 * ~100 ms to import, ~90 ms for the first parse and ~1 ms per parse+simplify, which alone
 * would exceed the CLI budget of 800 pairs/s; and its canonical forms hide the structure we
 * need (bracket types of intervals, `\pm`, relation chains). This parser covers the LaTeX
 * that answers use and keeps that structure.
 */

/** Exact rational with a positive denominator, always reduced. */
export interface Rat {
  n: bigint;
  d: bigint;
}

export type Node =
  | { k: "num"; v: Rat; text: string }
  | { k: "sym"; name: string }
  | { k: "const"; name: "pi" | "e" | "i" | "inf" }
  | { k: "add"; a: Node[] }
  | { k: "neg"; a: Node }
  | { k: "mul"; a: Node[] }
  | { k: "div"; a: Node; b: Node }
  | { k: "pow"; a: Node; b: Node }
  | { k: "fn"; name: string; a: Node[] }
  | { k: "pm"; a: Node; b: Node; sign: 1 | -1 }
  | { k: "brack"; open: string; close: string; items: Node[] }
  | { k: "set"; items: Node[] }
  | { k: "list"; items: Node[] }
  | { k: "rel"; ops: string[]; terms: Node[] }
  | { k: "matrix"; rows: Node[][] }
  | { k: "union"; a: Node[] }
  /** `A \setminus B`. */
  | { k: "setminus"; a: Node; b: Node }
  /** `a : b : c`, compared as proportions. */
  | { k: "ratio"; terms: Node[] }
  /** `x\%`: compared as x or as x/100 (see answersEqual). */
  | { k: "pct"; a: Node }
  /** A numeral with a base subscript, `52_8`: compared by its digits and base, never by value. */
  | { k: "based"; digits: string; base: string };

type Tok = { t: "num" | "id" | "cmd" | "op"; v: string };

export class ParseError extends Error {}

const FUNCS = new Set([
  "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
  "ln", "log", "exp", "sqrt", "abs", "floor", "ceil",
]);
// `≈` stays apart from `=`: in a chain `x = 1/3 ≈ 0.33` the answer is the last exact term.
const RELOPS: Record<string, string> = {
  "=": "=",
  "<": "<",
  ">": ">",
  "\\le": "<=",
  "\\ge": ">=",
  "\\ne": "!=",
  "\\approx": "~",
  "\\equiv": "=",
  "\\in": "in",
};
const IGNORED = new Set(["\\mathbf", "\\mathrm", "\\text", "\\boldsymbol", "\\mathit", "\\bf", "\\rm", "\\it", "\\operatorname", "\\textbf", "\\mbox"]);

export function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b) [a, b] = [b, a % b];
  return a;
}

export function rat(n: bigint, d = 1n): Rat {
  if (d === 0n) throw new ParseError("zero denominator");
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

/** Decimal or scientific literal as an exact rational: "0.125" → 1/8, "1.5e3" → 1500. */
export function decimalToRat(text: string): Rat {
  const m = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) throw new ParseError(`bad number ${text}`);
  const int = m[1] ?? "";
  const frac = m[2] ?? "";
  const exp = Number(m[3] ?? "0");
  if (Math.abs(exp) > 400) throw new ParseError("exponent too large");
  let n = BigInt((int + frac).replace(/^0+(?=\d)/, "") || "0");
  let d = 10n ** BigInt(frac.length);
  if (exp >= 0) n *= 10n ** BigInt(exp);
  else d *= 10n ** BigInt(-exp);
  return rat(n, d);
}

function tokenize(s: string, dl: Deadline): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    dl.check();
    const c = s[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      i++;
      continue;
    }
    if (/[0-9.]/.test(c)) {
      const m = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+(?![A-Za-z]))?/.exec(s.slice(i, i + 64));
      if (!m) throw new ParseError(`unexpected "${c}"`);
      out.push({ t: "num", v: m[0] });
      i += m[0].length;
      continue;
    }
    if (c === "\\") {
      const m = /^\\(?:[A-Za-z]+|.)/.exec(s.slice(i, i + 40));
      const v = m ? m[0] : "\\";
      i += v.length;
      if (v === "\\\\") out.push({ t: "op", v: "\\\\" });
      else if (v === "\\{" || v === "\\}") out.push({ t: "op", v });
      else if (v === "\\|") out.push({ t: "op", v: "|" });
      else out.push({ t: "cmd", v });
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      // Multi-letter function names written without a backslash (`sin x`, `sqrt(2)`).
      const word = /^[A-Za-z]+/.exec(s.slice(i, i + 40))![0];
      const fn = [...FUNCS].find((f) => word.startsWith(f) && f.length >= 2);
      if (fn) {
        out.push({ t: "cmd", v: `\\${fn}` });
        i += fn.length;
        continue;
      }
      out.push({ t: "id", v: c });
      i++;
      continue;
    }
    if ((c === "<" || c === ">" || c === "!") && s[i + 1] === "=") {
      out.push({ t: "cmd", v: c === "<" ? "\\le" : c === ">" ? "\\ge" : "\\ne" });
      i += 2;
      continue;
    }
    if (c === "*" && s[i + 1] === "*") {
      out.push({ t: "op", v: "^" });
      i += 2;
      continue;
    }
    out.push({ t: "op", v: c });
    i++;
  }
  return out;
}

const isOp = (tok: Tok | undefined, v: string) => tok !== undefined && tok.t !== "num" && tok.t !== "id" && tok.v === v;

/** Parses a normalized answer into a tree; throws ParseError on anything it cannot read. */
export function parseLatex(src: string, dl: Deadline): Node {
  const toks = tokenize(src, dl);
  let p = 0;
  const peek = () => toks[p];
  const next = () => {
    const t = toks[p++];
    if (!t) throw new ParseError("unexpected end");
    return t;
  };
  const expect = (v: string) => {
    const t = next();
    if (t.v !== v) throw new ParseError(`expected ${v}, got ${t.v}`);
  };
  const depthGuard = { d: 0 };

  function top(): Node {
    const items = [unionExpr()];
    while (isOp(peek(), ",") || isOp(peek(), ";")) {
      next();
      if (!peek()) break;
      items.push(unionExpr());
    }
    if (p < toks.length) throw new ParseError(`unexpected "${peek()!.v}"`);
    return items.length === 1 ? items[0]! : { k: "list", items };
  }

  function unionExpr(): Node {
    let parts = [relation()];
    const joined = (): Node => (parts.length === 1 ? parts[0]! : { k: "union", a: parts });
    for (;;) {
      if (isOp(peek(), "\\cup")) {
        next();
        parts.push(relation());
      } else if (isOp(peek(), "\\setminus")) {
        next();
        parts = [{ k: "setminus", a: joined(), b: relation() }];
      } else break;
    }
    return joined();
  }

  function relation(): Node {
    const terms = [ratio()];
    const ops: string[] = [];
    for (;;) {
      const t = peek();
      if (!t || t.t === "num" || t.t === "id") break;
      let op = RELOPS[t.v];
      if (!op) break;
      next();
      if (op === "<" && isOp(peek(), "=")) {
        next();
        op = "<=";
      }
      ops.push(op);
      terms.push(ratio());
    }
    return ops.length ? { k: "rel", ops, terms } : terms[0]!;
  }

  function ratio(): Node {
    const terms = [sum()];
    while (isOp(peek(), ":")) {
      next();
      terms.push(sum());
    }
    return terms.length === 1 ? terms[0]! : { k: "ratio", terms };
  }

  function sum(): Node {
    const terms: Node[] = [];
    let first: Node;
    if (isOp(peek(), "\\pm") || isOp(peek(), "\\mp")) {
      const sign = next().v === "\\pm" ? 1 : -1;
      first = { k: "pm", a: { k: "num", v: rat(0n), text: "0" }, b: term(), sign };
    } else first = term();
    terms.push(first);
    for (;;) {
      dl.check();
      const t = peek();
      if (isOp(t, "+")) {
        next();
        terms.push(term());
      } else if (isOp(t, "-")) {
        next();
        terms.push({ k: "neg", a: term() });
      } else if (isOp(t, "\\pm") || isOp(t, "\\mp")) {
        next();
        const a: Node = terms.length === 1 ? terms[0]! : { k: "add", a: terms.splice(0) };
        terms.length = 0;
        terms.push({ k: "pm", a, b: term(), sign: t!.v === "\\pm" ? 1 : -1 });
      } else break;
    }
    return terms.length === 1 ? terms[0]! : { k: "add", a: terms };
  }

  function startsPrimary(t: Tok | undefined): boolean {
    if (!t) return false;
    if (t.t === "num" || t.t === "id") return true;
    if (t.t === "cmd") return !RELOPS[t.v] && !["\\cdot", "\\times", "\\div", "\\pm", "\\mp", "\\cup", "\\setminus", "\\end", "\\to"].includes(t.v);
    return t.v === "(" || t.v === "{" || t.v === "\\{" || t.v === "[";
  }

  function term(): Node {
    let left = unary();
    const factors: Node[] = [left];
    for (;;) {
      dl.check();
      const t = peek();
      if (isOp(t, "*") || isOp(t, "\\cdot") || isOp(t, "\\times")) {
        next();
        factors.push(unary());
      } else if (isOp(t, "/") || isOp(t, "\\div")) {
        next();
        left = factors.length === 1 ? factors[0]! : { k: "mul", a: factors.splice(0) };
        factors.length = 0;
        factors.push({ k: "div", a: left, b: unary() });
      } else if (startsPrimary(t) && !(t!.t === "op" && t!.v === "[")) {
        factors.push(power());
      } else break;
    }
    return factors.length === 1 ? factors[0]! : { k: "mul", a: factors };
  }

  function unary(): Node {
    if (isOp(peek(), "-")) {
      next();
      return { k: "neg", a: unary() };
    }
    if (isOp(peek(), "+")) {
      next();
      return unary();
    }
    return power();
  }

  function script(): Node {
    // `x^23` is x²·3 in LaTeX: a bare superscript takes one character.
    const t = peek();
    if (t && t.t === "num" && t.v.length > 1) {
      const head = t.v[0]!;
      t.v = t.v.slice(1);
      return { k: "num", v: decimalToRat(head), text: head };
    }
    if (isOp(t, "-")) {
      next();
      return { k: "neg", a: script() };
    }
    return primary();
  }

  function power(): Node {
    let base = postfix();
    if (isOp(peek(), "^")) {
      next();
      base = { k: "pow", a: base, b: script() };
      while (isOp(peek(), "!")) {
        next();
        base = { k: "fn", name: "fact", a: [base] };
      }
    }
    return base;
  }

  function postfix(): Node {
    let n = primary();
    for (;;) {
      if (isOp(peek(), "!")) {
        next();
        n = { k: "fn", name: "fact", a: [n] };
      } else if (isOp(peek(), "%")) {
        next();
        n = { k: "pct", a: n };
      } else if (isOp(peek(), "'")) next();
      else break;
    }
    return n;
  }

  function group(): Node {
    const t = next();
    if (t.v !== "{") {
      p--;
      return script();
    }
    if (isOp(peek(), "}")) throw new ParseError("empty group");
    const inner = listUntil("}");
    expect("}");
    return inner;
  }

  function listUntil(close: string): Node {
    const items = [unionExpr()];
    while (isOp(peek(), ",")) {
      next();
      items.push(unionExpr());
    }
    if (!isOp(peek(), close)) throw new ParseError(`expected ${close}`);
    return items.length === 1 ? items[0]! : { k: "list", items };
  }

  function primary(): Node {
    if (++depthGuard.d > 200) throw new ParseError("nesting too deep");
    try {
      return primaryInner();
    } finally {
      depthGuard.d--;
    }
  }

  function primaryInner(): Node {
    dl.check();
    const t = next();
    if (t.t === "num") {
      if (isOp(peek(), "_") && /^\d+$/.test(t.v)) {
        next();
        const base = subscriptName().replace(/[()]/g, "");
        if (!/^\d+$/.test(base)) throw new ParseError(`base ${base} is not a number`);
        return { k: "based", digits: t.v, base };
      }
      return { k: "num", v: decimalToRat(t.v), text: t.v };
    }
    if (t.t === "id") {
      let name = t.v;
      if (name === "i" || name === "e") return { k: "const", name };
      if (isOp(peek(), "_")) {
        next();
        name += `_${subscriptName()}`;
      }
      return { k: "sym", name };
    }
    if (t.t === "op") {
      if (t.v === "{") {
        const inner = listUntil("}");
        expect("}");
        return inner;
      }
      if (t.v === "(" || t.v === "[") return bracket(t.v);
      if (t.v === "\\{") {
        const items: Node[] = [];
        if (!isOp(peek(), "\\}")) {
          items.push(unionExpr());
          while (isOp(peek(), ",") || isOp(peek(), ";")) {
            next();
            items.push(unionExpr());
          }
        }
        expect("\\}");
        return { k: "set", items };
      }
      if (t.v === "|") {
        const inner = sum();
        expect("|");
        return { k: "fn", name: "abs", a: [inner] };
      }
      throw new ParseError(`unexpected "${t.v}"`);
    }
    return command(t.v);
  }

  function subscriptName(): string {
    const t = next();
    if (t.v === "{") {
      let s = "";
      while (!isOp(peek(), "}")) s += next().v;
      expect("}");
      return s;
    }
    return t.v;
  }

  function bracket(open: string): Node {
    const items = [unionExpr()];
    // `(0;-2;6)`: some write tuples with semicolons.
    while (isOp(peek(), ",") || isOp(peek(), ";")) {
      next();
      items.push(unionExpr());
    }
    const close = next().v;
    if (close !== ")" && close !== "]") throw new ParseError(`expected ) or ], got ${close}`);
    // `\left[\begin{array}…\end{array}\right]`: the brackets are the matrix's delimiters.
    if (items.length === 1 && (items[0]!.k === "matrix" || (open === "(" && close === ")"))) return items[0]!;
    return { k: "brack", open, close, items };
  }

  function command(v: string): Node {
    switch (v) {
      case "\\pi":
        return { k: "const", name: "pi" };
      case "\\infty":
      case "\\infin":
        return { k: "const", name: "inf" };
      case "\\imath":
        return { k: "const", name: "i" };
      case "\\frac":
      case "\\cfrac": {
        const a = group();
        return { k: "div", a, b: group() };
      }
      case "\\binom":
      case "\\dbinom":
      case "\\tbinom": {
        const a = group();
        return { k: "fn", name: "binom", a: [a, group()] };
      }
      case "\\sqrt": {
        if (isOp(peek(), "[")) {
          next();
          const idx = sum();
          expect("]");
          return { k: "pow", a: group(), b: { k: "div", a: { k: "num", v: rat(1n), text: "1" }, b: idx } };
        }
        return { k: "fn", name: "sqrt", a: [group()] };
      }
      case "\\begin":
        return matrix();
      case "\\emptyset":
      case "\\varnothing":
        return { k: "set", items: [] };
      case "\\lfloor":
      case "\\lceil": {
        const inner = sum();
        next();
        return { k: "fn", name: v === "\\lfloor" ? "floor" : "ceil", a: [inner] };
      }
      case "\\vert":
      case "\\lvert": {
        const inner = sum();
        next();
        return { k: "fn", name: "abs", a: [inner] };
      }
      case "\\langle": {
        const items = [sum()];
        while (isOp(peek(), ",")) {
          next();
          items.push(sum());
        }
        expect("\\rangle");
        return { k: "brack", open: "(", close: ")", items };
      }
    }
    if (IGNORED.has(v)) return primary();
    const name = v.slice(1);
    if (FUNCS.has(name)) {
      let base: Node | undefined;
      if (isOp(peek(), "_")) {
        next();
        base = script();
      }
      let exp: Node | undefined;
      if (isOp(peek(), "^")) {
        next();
        exp = script();
      }
      const arg = isOp(peek(), "(") || isOp(peek(), "{") ? primary() : power();
      let f: Node = { k: "fn", name, a: base ? [arg, base] : [arg] };
      if (exp) f = { k: "pow", a: f, b: exp };
      return f;
    }
    if (/^\\[A-Za-z]+$/.test(v)) {
      // Greek letters and other named symbols are variables.
      let sname = name;
      if (isOp(peek(), "_")) {
        next();
        sname += `_${subscriptName()}`;
      }
      return { k: "sym", name: sname };
    }
    throw new ParseError(`unknown command ${v}`);
  }

  function matrix(): Node {
    expect("{");
    let env = "";
    while (!isOp(peek(), "}")) env += next().v;
    expect("}");
    if (env === "array") {
      // Column spec `{cc}`.
      expect("{");
      while (!isOp(peek(), "}")) next();
      expect("}");
    }
    const rows: Node[][] = [[]];
    for (;;) {
      dl.check();
      const t = peek();
      if (!t) throw new ParseError("unterminated matrix");
      if (t.t === "cmd" && t.v === "\\end") {
        next();
        expect("{");
        while (!isOp(peek(), "}")) next();
        expect("}");
        break;
      }
      if (isOp(t, "&")) {
        next();
        continue;
      }
      if (isOp(t, "\\\\")) {
        next();
        rows.push([]);
        continue;
      }
      rows[rows.length - 1]!.push(sum());
    }
    const kept = rows.filter((r) => r.length > 0);
    return { k: "matrix", rows: kept };
  }

  return top();
}
