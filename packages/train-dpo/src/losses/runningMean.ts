// bco_pair's δ across steps, kept by the trainer and checkpointed in loss_state.json.

/** Running mean of scalars across batches (TRL v0.19 `RunningMoments`, mean part), for `bco_pair`'s δ. */
export class RunningMean {
  constructor(
    private sum = 0,
    private n = 0,
  ) {}
  update(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.sum += values[i]!;
    this.n += values.length;
  }
  get mean(): number {
    return this.n === 0 ? 0 : this.sum / this.n;
  }
  get count(): number {
    return this.n;
  }
  /** Plain state for checkpoints; restore with `RunningMean.fromState`. */
  state(): { sum: number; count: number } {
    return { sum: this.sum, count: this.n };
  }
  static fromState(s: { sum: number; count: number }): RunningMean {
    return new RunningMean(s.sum, s.count);
  }
}
