/**
 * The leader's view of one follower (or learner): how far its log matches and how to send it
 * more. Three states, as in etcd's raft:
 *
 * - probe: we do not know where the logs diverge; at most one append with entries per
 *   heartbeat until a response arrives;
 * - replicate: the follower accepted; appends are pipelined (next advances optimistically)
 *   with a bounded number in flight;
 * - snapshot: a snapshot was sent; wait for its response (or retry after a timeout).
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** probe: an append with entries was sent since the last heartbeat or response. */
  probeSent = false;
  /** replicate: last index of each append in flight, ascending. */
  inflight: number[] = [];
  /** snapshot: the index of the snapshot sent, and when. */
  snapshotIndex = 0;
  snapshotSentAt = 0;
  /** When the last message from this peer arrived. */
  lastContact: number;

  constructor(next: number, now: number) {
    this.next = next;
    this.lastContact = now;
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflight = [];
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflight = [];
  }

  becomeSnapshot(index: number, now: number): void {
    this.state = 'snapshot';
    this.snapshotIndex = index;
    this.snapshotSentAt = now;
    this.inflight = [];
  }

  /** A success for index n: true when the match index grew. */
  maybeUpdate(n: number): boolean {
    let grew = false;
    if (n > this.match) {
      this.match = n;
      grew = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    this.freeTo(n);
    return grew;
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`; `guess` is where to try next.
   * False when the rejection is stale (from before a later success or another probe).
   */
  maybeDecrTo(rejected: number, guess: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.becomeProbe();
      this.next = Math.max(this.match + 1, Math.min(rejected, guess));
      return true;
    }
    if (this.state === 'probe') {
      if (rejected !== this.next - 1) return false;
      this.next = Math.max(this.match + 1, Math.min(rejected, guess));
      this.probeSent = false;
      return true;
    }
    return false;
  }

  /** No append with entries may be sent now. */
  paused(maxInflight: number): boolean {
    if (this.state === 'probe') return this.probeSent;
    if (this.state === 'replicate') return this.inflight.length >= maxInflight;
    return true;
  }

  /** An append carrying entries up to `last` was sent. */
  sent(last: number): void {
    if (this.state === 'replicate') {
      this.next = last + 1;
      this.inflight.push(last);
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  freeTo(n: number): void {
    let k = 0;
    while (k < this.inflight.length && this.inflight[k] <= n) k++;
    if (k) this.inflight.splice(0, k);
  }
}
