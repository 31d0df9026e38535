import type { Domain } from "./taxonomy.js";

/** One weighted cue: every match (up to `maxHits`) adds `weight` (negative: counts against) to the domain's score. */
export interface KeywordRule {
  domain: Domain;
  /** Must carry the `g` flag. */
  pattern: RegExp;
  weight: number;
  /** Matches counted at most this many times, so one repeated word cannot dominate. @default 2 */
  maxHits?: number;
}

/**
 * Default rules. Weights: 2 = almost decisive cue (`\binom`, `\pmod`, `\sin`), 1 = typical
 * vocabulary, 0.5 = weak or shared cue. The README has the same table for review. Tuned on
 * a seeded half of MATH test (see test/domainEval.test.ts), never on the half it is scored on.
 */
export const DEFAULT_KEYWORD_RULES: readonly KeywordRule[] = [
  // Algebra (MATH Algebra, Intermediate Algebra, Prealgebra)
  { domain: "math/algebra", pattern: /\b(?:solve for|equations?|polynomials?|quadratic|inequalit(?:y|ies)|linear|slope|intercept|system of|expand|simplify|exponents?|logarithms?|coefficients?|asymptotes?|parabola|ellipse|hyperbola|absolute value|inverse|real (?:numbers?|solutions?|roots?)|roots?|zeros|sequence|evaluate|simplest radical form|percent|average|ratio|graphs? of|functions?|values? of [a-z]\b|terms?|interest|proportional)\b/gi, weight: 1 },
  { domain: "math/algebra", pattern: /\\(?:log|sqrt|ln|frac)(?![a-z])|\b[fgh]\((?:x|\d+)\)|\^\{?-?\d|\bx\^|[a-z]\s*[+-]\s*\d+\s*=|\\le\b|\\ge\b|\|x/gi, weight: 0.5 },
  // Mathematics typeset without a more specific cue is most often algebra (59% of MATH).
  { domain: "math/algebra", pattern: /\$|\\\[|\\\(/g, weight: 0.5, maxHits: 1 },
  { domain: "math/algebra", pattern: /\b(?:maximum|minimum) value\b|\bcomplex numbers?\b|\bpositive real numbers\b/gi, weight: 1 },

  // Geometry
  { domain: "math/geometry", pattern: /\b(?:triangles?|circles?|radius|radii|diameter|perimeter|polygons?|rectangles?|rectangular|hexagon|pentagon|octagon|trapezoid|parallelogram|rhombus|quadrilateral|cubes?|spheres?|cylinders?|cones?|pyramids?|prisms?|inscribed|circumscribed|chords?|arcs?|sectors?|congruent|similar|hypotenuse|isosceles|equilateral|altitude|medians?|bisectors?|segments?|vertex|vertices|diagonals?|semicircle|tangent to|area|volume|surface area|square units|degrees?|angles?|sides?|right triangle|centimeters|inches|feet)\b/gi, weight: 1 },
  { domain: "math/geometry", pattern: /\\(?:angle|triangle|overline|circ|pi)(?![a-z])|\\sqrt\{?\d+\}?\s*\\pi/g, weight: 1 },

  // Number theory
  { domain: "math/number_theory", pattern: /\b(?:remainders?|modulo|gcd|lcm|greatest common (?:divisor|factor)|least common multiple|relatively prime|prime factors?|prime factorization|units digit|base \d+|base-\d+)\b/gi, weight: 1.5 },
  { domain: "math/number_theory", pattern: /\b(?:primes?|divisors?|divisible|divides|mod|terminating|repeating decimal|congruen(?:ce|t to)|day of the week)\b/gi, weight: 1 },
  { domain: "math/number_theory", pattern: /\b(?:digits?|integers?|multiples?|factors?|perfect (?:squares?|cubes?)|odd|even)\b/gi, weight: 0.5 },
  { domain: "math/number_theory", pattern: /\\pmod|\\equiv|_\{?\d+\}?(?!\^)|\\mid|\\gcd|\\text\{lcm\}|\\mathop\{\\text\{lcm\}\}/g, weight: 2 },

  // Counting and probability
  { domain: "math/combinatorics_probability", pattern: /\b(?:probability|probabilities|how many (?:ways|different|distinct|arrangements)|number of ways|in how many|expected value)\b/gi, weight: 2 },
  { domain: "math/combinatorics_probability", pattern: /\b(?:arrangements?|arrange[sd]?|combinations?|permutations?|committee|randomly|at random|coins?|dice|die|cards?|deck|odds|outcomes?|flip(?:s|ped)?|roll(?:s|ed)?|drawn|marbles|balls|pascal'?s triangle|factorial|chosen|choose|selected|select|distinguishable|indistinguishable|paths?|subsets?|committees?|teams?)\b/gi, weight: 1 },
  { domain: "math/combinatorics_probability", pattern: /\\binom|\\dbinom|\d!\s|\d!\$|\bP\(|\\choose/g, weight: 2 },

  // Calculus and analysis
  { domain: "math/calculus_analysis", pattern: /\b(?:derivatives?|differentiate|integrals?|integrate|antiderivative)\b/gi, weight: 2 },
  { domain: "math/calculus_analysis", pattern: /\b(?:limit|continuous|differentiable|converge[sn]?t?|divergent|taylor|maclaurin|rate of change|tangent line)\b/gi, weight: 1.5 },
  { domain: "math/calculus_analysis", pattern: /\\(?:int|iint|oint|lim|limsup|liminf)(?![a-z])|\\frac\{d[a-z]?\}\{d[a-z]\}|\\partial/g, weight: 3 },
  { domain: "math/calculus_analysis", pattern: /\\infty/g, weight: 1 },

  // Precalculus
  { domain: "math/precalculus", pattern: /\\(?:sin|cos|tan|cot|sec|csc|arcsin|arccos|arctan|mathbf|det|times|theta|omega|cdot)(?![a-z])|pmatrix|bmatrix|\^\\circ/g, weight: 1.5 },
  { domain: "math/precalculus", pattern: /\b(?:trigonometric|radians?|vectors?|matri(?:x|ces)|determinant|dot product|cross product|projection|rotation|reflection|dilation|polar|rectangular coordinates|spherical coordinates|cylindrical coordinates|parametri[cz]\w*|roots? of unity|plane|parallelepiped|orthogonal|unit vector)\b/gi, weight: 1 },

  // Grade-school word problems: everyday quantities, money and people, usually without LaTeX.
  { domain: "math/arithmetic_word_problems", pattern: /\b(?:dollars?|cents?|costs?|buys?|bought|sells?|sold|pays?|paid|earns?|spends?|spent|saves?|price|per (?:hour|day|week|month)|hours?|minutes?|days?|weeks?|months?|years? old|how much (?:money|more|did|does|will)|total|altogether|left|apples|cookies|cupcakes|pizza|miles|gallons|pounds|students|friends|books|candies|eggs)\b/gi, weight: 0.75 },
  { domain: "math/arithmetic_word_problems", pattern: /\b(?:he|she|his|her|they|their)\b/gi, weight: 0.25 },
  { domain: "math/arithmetic_word_problems", pattern: /\\\$\s?\d/g, weight: 1 },
  // GSM8K-style problems are plain prose: LaTeX markup counts against them.
  { domain: "math/arithmetic_word_problems", pattern: /\$[^$\d][^$]*\$|\\\(|\\\[|\\frac/g, weight: -1.5, maxHits: 1 },

  // Code
  { domain: "code", pattern: /```|\bdef \w+\(|\bfunction\s+\w+\(|#include|public static|console\.log|print\(|\breturn\b|^import \w+|\bclass [A-Z]\w*\s*[:({]/gm, weight: 2 },
  { domain: "code", pattern: /\b(?:python|javascript|typescript|java|c\+\+|golang|sql|bash|html|css)\b/gi, weight: 2 },
  { domain: "code", pattern: /\b(?:program|code|algorithm|(?<!\{)arrays?|linked list|binary tree|hash ?map|time complexity|implement|compile[rd]?|debug|stack trace|leetcode|input format|output format|test cases?)\b/gi, weight: 1 },

  // Physics
  { domain: "science/physics", pattern: /\b(?:velocity|acceleration|forces?|newtons?|momentum|friction|gravit\w*|electric\w*|magnetic|charges?|currents?|voltage|resist(?:or|ance)|circuits?|wavelength|frequency|photons?|quantum|thermodynamic\w*|kinetic|potential energy|joules?|pendulum|projectile|lens|refraction|spring constant|m\/s|kg|torque|watts?|capacitor|relativity)\b/gi, weight: 1 },

  // Chemistry
  { domain: "science/chemistry", pattern: /\b(?:moles?|molecules?|molecular|reactions?|acids?|ph|molar\w*|stoichiometr\w*|atoms?|atomic|compounds?|oxidation|redox|covalent|ionic|catalysts?|enthalpy|titration|isotopes?|periodic table|organic|alkanes?|alkenes?|benzene|chemical|electrons?|solut(?:e|ion) of|grams of)\b/gi, weight: 1 },
  { domain: "science/chemistry", pattern: /\\ce\{|\b(?:H_?2O|NaCl|CO_?2|H_?2SO_?4|NaOH|HCl)\b/g, weight: 2 },

  // Biology
  { domain: "science/biology", pattern: /\b(?:cells?|dna|rna|genes?|genetic\w*|proteins?|enzymes?|organisms?|species|evolution\w*|mitosis|meiosis|photosynthesis|chromosomes?|alleles?|mutations?|bacteria\w*|virus\w*|tissues?|organs?|ecosystems?|hormones?|neurons?|phenotype|genotype)\b/gi, weight: 1 },
];
