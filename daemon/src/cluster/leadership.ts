/**
 * Who leads the fleet. The daemon only talks to this interface; today's implementation is the
 * one-member fleet, which elects itself at once (a majority of one). The term is persisted
 * and raised on every election, as Raft does, so writes carry a term that only grows; the
 * Raft-style election over the peer channel implements the same interface.
 */
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

export interface Leadership extends EventEmitter {
  /** Current term (0 before the first election). */
  readonly term: number;
  readonly isLeader: boolean;
  /** Name of the current leader, when known. */
  readonly leader: string | undefined;
  readonly members: string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  // events: 'elected' (term), 'deposed' (term), 'leader' (name, term)
}

interface TermFile { term: number; votedFor?: string }

/** Persisted election state (term and vote), written before it is acted upon. */
export async function readTermFile(dir: string): Promise<TermFile> {
  try {
    const t = JSON.parse(await fsp.readFile(join(dir, 'term.json'), 'utf8')) as TermFile;
    return { term: Number.isInteger(t.term) && t.term >= 0 ? t.term : 0, ...(t.votedFor ? { votedFor: t.votedFor } : {}) };
  } catch {
    return { term: 0 };
  }
}

export async function writeTermFile(dir: string, t: TermFile): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'term.json');
  const tmp = `${path}.tmp`;
  const fh = await fsp.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(t));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, path);
}

export class SoloLeadership extends EventEmitter implements Leadership {
  #term = 0;
  #leader = false;

  constructor(private readonly opts: { dir: string; node: string; minTerm?: number }) {
    super();
  }

  get term(): number { return this.#term; }
  get isLeader(): boolean { return this.#leader; }
  get leader(): string | undefined { return this.#leader ? this.opts.node : undefined; }
  get members(): string[] { return [this.opts.node]; }

  async start(): Promise<void> {
    const persisted = await readTermFile(this.opts.dir);
    this.#term = Math.max(persisted.term, this.opts.minTerm ?? 0) + 1;
    await writeTermFile(this.opts.dir, { term: this.#term, votedFor: this.opts.node });
    this.#leader = true;
    this.emit('leader', this.opts.node, this.#term);
    this.emit('elected', this.#term);
  }

  async stop(): Promise<void> {
    if (this.#leader) {
      this.#leader = false;
      this.emit('deposed', this.#term);
    }
  }
}
