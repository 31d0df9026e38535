/** Thrown inside the comparison when its time budget is spent; caught by verifyMath. */
export class VerifyTimeout extends Error {
  constructor() {
    super("[infialign/verify] math: comparison exceeded its time budget");
  }
}

/** A clock checked inside parse and comparison loops, so no input can hang the verifier. */
export interface Deadline {
  check(): void;
}

export function createDeadline(ms: number, now: () => number = () => performance.now()): Deadline {
  const end = now() + ms;
  let n = 0;
  return {
    check() {
      // Reading the clock costs more than the loops it guards; sample it.
      if ((++n & 15) === 0 && now() > end) throw new VerifyTimeout();
    },
  };
}
