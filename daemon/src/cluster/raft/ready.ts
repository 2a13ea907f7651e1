/**
 * The output side of a RaftNode: messages waiting to be sent, snapshots waiting to be
 * persisted and loaded, and the bookkeeping of the one outstanding Ready (what was offered,
 * what the driver confirmed), so that whatever a failed write did not make durable is offered
 * again and nothing that depended on it is sent.
 */
import type { RaftLog } from './log.js';
import type { HardState, RaftMessage, Ready, Snapshot, SoftState } from './types.js';

export interface Outstanding {
  rd: Ready;
  /** The applied index once rd is applied. */
  appliedTo: number;
  /** How many dropped proposals rd reported. */
  droppedCount: number;
  /** rd wrote to the log (entries or a truncation). */
  wroteLog: boolean;
}

/** What a Ready is built from. */
export interface ReadySource {
  hardState: HardState;
  softState: SoftState;
  log: RaftLog;
  commit: number;
  applied: number;
  dropped: Array<{ index: number; term: number }>;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor;
}

function sameSoftState(a: SoftState, b: SoftState | undefined): boolean {
  return !!b && a.role === b.role && a.term === b.term && a.leader === b.leader && a.leaderReady === b.leaderReady;
}

export class Outbox {
  #messages: RaftMessage[] = [];
  /** Received from the leader: to persist, and to load into the state machine. */
  snapshot: Snapshot | undefined;
  apply: Snapshot | undefined;
  #hsOffered: HardState;
  #hsPersisted: HardState;
  #softReported: SoftState | undefined;
  #out: Outstanding | undefined;

  constructor(persisted: HardState) {
    this.#hsPersisted = this.#hsOffered = { ...persisted };
  }

  send(m: RaftMessage): void {
    this.#messages.push(m);
  }

  get outstanding(): boolean {
    return !!this.#out;
  }

  /** The next Ready (undefined when there is nothing, or while one is outstanding). */
  take(src: ReadySource): Ready | undefined {
    if (this.#out) return undefined;
    const rd: Ready = { entries: [], messages: [], committed: [] };
    let any = false;
    if (!sameHardState(src.hardState, this.#hsOffered)) {
      rd.hardState = src.hardState;
      this.#hsOffered = src.hardState;
      any = true;
    }
    if (this.snapshot) {
      rd.snapshot = this.snapshot;
      any = true;
    }
    const { truncateFrom, entries } = src.log.takeUnstable();
    if (truncateFrom !== undefined) rd.truncateFrom = truncateFrom;
    rd.entries = entries;
    if (this.#messages.length) {
      rd.messages = this.#messages;
      this.#messages = [];
    }
    let appliedTo = src.applied;
    if (this.apply) {
      rd.applySnapshot = this.apply;
      appliedTo = this.apply.meta.index;
    }
    if (src.commit > appliedTo) {
      rd.committed = src.log.slice(appliedTo + 1, src.commit + 1);
      if (rd.committed.length) appliedTo = rd.committed[rd.committed.length - 1].index;
    }
    if (!sameSoftState(src.softState, this.#softReported)) rd.softState = src.softState;
    if (src.dropped.length) rd.dropped = src.dropped.slice();
    const wroteLog = truncateFrom !== undefined || entries.length > 0;
    any ||= wroteLog || rd.messages.length > 0 || !!rd.applySnapshot || rd.committed.length > 0 || !!rd.softState || !!rd.dropped;
    if (!any) return undefined;
    this.#out = { rd, appliedTo, droppedCount: src.dropped.length, wroteLog };
    return rd;
  }

  #takeOutstanding(rd: Ready, what: string): Outstanding {
    const out = this.#out;
    if (!out || out.rd !== rd) throw new Error(`RaftNode.${what}: not the outstanding Ready`);
    this.#out = undefined;
    return out;
  }

  /** The driver made rd durable, sent and applied it. */
  advanced(rd: Ready): Outstanding {
    const out = this.#takeOutstanding(rd, 'advance');
    if (rd.hardState) this.#hsPersisted = rd.hardState;
    if (rd.snapshot && this.snapshot === rd.snapshot) this.snapshot = undefined;
    if (rd.applySnapshot && this.apply === rd.applySnapshot) this.apply = undefined;
    if (rd.softState) this.#softReported = rd.softState;
    return out;
  }

  /**
   * Writing rd failed: nothing of it was sent or applied. Its hardState, snapshot, softState and
   * dropped reports are offered again; the messages queued since are dropped (they may
   * acknowledge or carry what is not on disk).
   */
  failed(rd: Ready): Outstanding {
    const out = this.#takeOutstanding(rd, 'persistFailed');
    this.#hsOffered = this.#hsPersisted;
    this.#messages = [];
    return out;
  }
}
