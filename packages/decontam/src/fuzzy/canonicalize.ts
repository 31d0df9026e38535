import { DRAWING_CODE } from "../normalize/normalizeForMatch.js";

// Harder normalization than `normalizeForMatch`, for paraphrase matching: LaTeX markup, variable names, stop-words,
// number words and common synonyms are canonicalized away so that reformatted or reworded copies share features.

// Formatting-only LaTeX commands (dropped); other commands keep their name as a word (`\sqrt` → "sqrt").
const LATEX_DROP = /\\(?:left|right|[bB]igg?[lr]?|displaystyle|[dt]?frac|[dt]?binom|text\w*|math\w*|operatorname|boxed|q?quad|[,;:! ])|\f(?=rac)|[$~]/g;
const THOUSANDS = /(\d),(?=\d{3}(?!\d))/g;
const TOKEN = /[a-z]+|\d+(?:\.\d+)?|%/g;
// "twenty-seven", "thirty five": a tens word followed by a unit word is one number.
const TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };
const UNITS: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9 };
const COMPOUND = new RegExp(`\\b(${Object.keys(TENS).join("|")})[- ](${Object.keys(UNITS).join("|")})\\b`, "g");

/** Placeholder for any single-letter token (a variable name, or the article "a"). */
export const VARIABLE = "_v";

const STOP = new Set(
  (
    "the of and is are was were to in into that what be let such for with if by on as at this it its an or then than which how " +
    "many much do does did following problem solve question answer find compute calculate determine evaluate work out " +
    "there their they he she his her we you your our has have had will would can could should must may given suppose assume " +
    "show express give write all some any each every per from up down out about after before so these those when where who " +
    "whose whom why also only just not no yes one's please following below above"
  ).split(" "),
);

const NUMBER_WORDS: Record<string, string> = {
  zero: "0", one: "1", two: "2", three: "3", four: "4", five: "5", six: "6", seven: "7", eight: "8", nine: "9", ten: "10",
  eleven: "11", twelve: "12", twenty: "20", hundred: "100", thousand: "1000", half: "0.5", twice: "2", double: "2", triple: "3",
  // Ordinals are numbers too ("the eighth term" vs "the sixth term"); "first" and "second" are left alone (also ordinary words).
  third: "3", fourth: "4", fifth: "5", sixth: "6", seventh: "7", eighth: "8", ninth: "9", tenth: "10",
};

// Small synonym classes seen in problem statements; the first word of each class is canonical.
const SYNONYMS: Record<string, string> = {};
for (const cls of [
  "min smallest least minimum minimal lowest",
  "max largest greatest maximum maximal biggest highest",
  "total altogether combined overall entire whole",
  "buy purchase purchased bought buys purchases",
  "cost price costs priced",
  "number count amount quantity",
  "integer integral whole-number",
  "real actual",
  "probability chance likelihood",
  "sum add added adding plus",
  "product multiply multiplied times cdot",
  "different distinct",
  "earn make made earns makes earned",
  "spend spent spends",
  "sell sold sells",
  "get got gets receive received receives",
  "use used uses",
  "need needs needed require requires required",
  "day daily",
  "week weekly",
  "hour hourly",
]) {
  const [head, ...rest] = cls.split(" ") as [string, ...string[]];
  for (const w of rest) SYNONYMS[w] = head;
}

function stem(w: string): string {
  if (w.length > 4 && w.endsWith("ies")) return `${w.slice(0, -3)}y`;
  if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss") && !w.endsWith("us")) return w.slice(0, -1);
  return w;
}

/** True for a canonical number token. */
export const isNumber = (t: string): boolean => t.charCodeAt(0) >= 48 && t.charCodeAt(0) <= 57;

/**
 * Canonical tokens of `text` for paraphrase matching: LaTeX formatting dropped (`\dfrac{1}{2}`, `\frac12` and `1/2` all
 * read "1 2"), lowercase, letters and digits split apart (`2x` → "2", "x"), thousands separators removed, number words
 * to digits ("twenty-seven" → "27"), `%` as "percent", stop-words dropped, plural "s" stripped, a few synonym classes merged, and every single-letter token
 * replaced by {@link VARIABLE} so renamed variables read the same. Drawing code (`[asy]…[/asy]`) is dropped: figures
 * share grid and axis code across unrelated problems, and a reworded problem is told by its text.
 */
export function canonicalTokens(text: string): string[] {
  const s = text
    .replace(DRAWING_CODE, " ")
    .replace(LATEX_DROP, " ")
    .replace(THOUSANDS, "$1")
    .toLowerCase()
    .replace(COMPOUND, (_, tens: string, unit: string) => String((TENS[tens] as number) + (UNITS[unit] as number)));
  const out: string[] = [];
  for (const m of s.matchAll(TOKEN)) {
    let t = m[0] === "%" ? "percent" : m[0];
    if (t.length === 1 && !isNumber(t)) {
      out.push(VARIABLE);
      continue;
    }
    if (STOP.has(t)) continue;
    t = NUMBER_WORDS[t] ?? (TENS[t] !== undefined ? String(TENS[t]) : t);
    if (!isNumber(t)) {
      t = stem(t);
      t = SYNONYMS[t] ?? t;
    }
    out.push(t);
  }
  return out;
}
