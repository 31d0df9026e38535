import { describe, expect, it } from "vitest";
import { TrainingError } from "../src/core/errors.js";
import { NonFiniteGuard } from "../src/core/guard.js";

describe("NonFiniteGuard", () => {
  it("applies finite steps, skips non-finite ones with a warning, aborts at the limit with the checkpoint named", async () => {
    const warnings: string[] = [];
    const aborts: number[] = [];
    const guard = new NonFiniteGuard({
      warn: (m) => warnings.push(m),
      onAbort: ({ step }) => {
        aborts.push(step);
        return `/runs/x/checkpoint-${step - 1}`;
      },
    });
    expect(await guard.check({ step: 1, loss: 1.5, gradNorm: 2 })).toBe(true);
    expect(await guard.check({ step: 2, loss: Number.NaN, gradNorm: 2 })).toBe(false);
    expect(await guard.check({ step: 3, loss: 1, gradNorm: Number.POSITIVE_INFINITY })).toBe(false);
    expect(guard.consecutiveSkips).toBe(2);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/step 2: non-finite loss=NaN, grad_norm=2; update skipped \(1 in a row, aborting at 3\)/);
    const error = await guard.check({ step: 4, loss: Number.NaN, gradNorm: Number.NaN }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as Error).message).toMatch(/step 4: 3 consecutive steps .* saved to \/runs\/x\/checkpoint-3\. Lower the learning rate/);
    expect(aborts).toEqual([4]);
    expect(guard.totalSkips).toBe(3);
  });

  it("a finite step resets the streak", async () => {
    const guard = new NonFiniteGuard({ maxConsecutive: 2, warn: () => {} });
    expect(await guard.check({ step: 1, loss: Number.NaN, gradNorm: 1 })).toBe(false);
    expect(await guard.check({ step: 2, loss: 1, gradNorm: 1 })).toBe(true);
    expect(await guard.check({ step: 3, loss: Number.NaN, gradNorm: 1 })).toBe(false);
    await expect(guard.check({ step: 4, loss: Number.NaN, gradNorm: 1 })).rejects.toThrow(/No checkpoint was saved/);
  });

  it("says when saving the checkpoint failed, keeping the cause", async () => {
    const guard = new NonFiniteGuard({
      maxConsecutive: 1,
      onAbort: () => {
        throw new Error("disk full");
      },
    });
    const error = (await guard.check({ step: 7, loss: Number.NaN, gradNorm: 0 }).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/Saving a checkpoint failed too \(disk full\)/);
    expect((error.cause as Error).message).toBe("disk full");
    expect(() => new NonFiniteGuard({ maxConsecutive: 0 })).toThrow(/maxConsecutive=0/);
  });
});
