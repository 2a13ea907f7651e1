/**
 * The leader's own proposals until their fate is known, and the ones known lost (reported in
 * Ready.dropped): an entry of another term committed at their index, or forgotten after a
 * failed write. An index may carry proposals of several terms (a leader deposed and elected
 * again): each is decided on its own.
 */
export class Proposals {
  #pending = new Map<number, number[]>();
  /** Lost proposals not yet reported in an advanced Ready. */
  readonly dropped: Array<{ index: number; term: number }> = [];

  add(index: number, term: number): void {
    const terms = this.#pending.get(index);
    if (terms) terms.push(term);
    else this.#pending.set(index, [term]);
  }

  /** Entries from..to committed; termAt gives their terms. */
  committed(from: number, to: number, termAt: (index: number) => number | undefined): void {
    if (!this.#pending.size) return;
    for (const [index, terms] of this.#pending) {
      if (index < from || index > to) continue;
      const t = termAt(index);
      for (const term of terms) if (term !== t) this.dropped.push({ index, term });
      this.#pending.delete(index);
    }
  }

  /** The entry (index, term) was forgotten after a failed write. */
  lost(index: number, term: number): void {
    const terms = this.#pending.get(index);
    const k = terms ? terms.indexOf(term) : -1;
    if (!terms || k < 0) return;
    terms.splice(k, 1);
    if (!terms.length) this.#pending.delete(index);
    this.dropped.push({ index, term });
  }

  /** A snapshot from the leader covers these indexes: their outcome cannot be known here. */
  forgetUpTo(index: number): void {
    for (const i of [...this.#pending.keys()]) if (i <= index) this.#pending.delete(i);
  }

  /** The first n dropped ones were in an advanced Ready. */
  reported(n: number): void {
    this.dropped.splice(0, n);
  }
}
