/**
 * The election state a member must never forget: its term, whom it voted for in that term, and
 * the id of the fleet it belongs to. Written (fsync, rename) before a vote or a new term is
 * acted upon; never at idle. The file is <stateDir>/term.json.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic-write.js';

export interface TermFile {
  term: number;
  votedFor?: string;
  /** The fleet this member belongs to (random id made when the fleet was bootstrapped). */
  fleet?: string;
}

export const TERM_FILE = 'term.json';

export async function readTermFile(dir: string): Promise<TermFile> {
  let raw: string;
  try {
    raw = await fsp.readFile(join(dir, TERM_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { term: 0 };
    throw new Error(`cannot read the election state ${join(dir, TERM_FILE)}: ${(err as Error).message}`);
  }
  let t: TermFile;
  try {
    t = JSON.parse(raw) as TermFile;
  } catch {
    // written by rename only: a bad file is disk damage; forgetting a vote could elect two leaders
    throw new Error(`the election state ${join(dir, TERM_FILE)} is damaged (not JSON): restore it, or remove this member's state directory and let it join the fleet again`);
  }
  return {
    term: Number.isInteger(t.term) && t.term >= 0 ? t.term : 0,
    ...(typeof t.votedFor === 'string' ? { votedFor: t.votedFor } : {}),
    ...(typeof t.fleet === 'string' ? { fleet: t.fleet } : {}),
  };
}

export async function writeTermFile(dir: string, t: TermFile): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, TERM_FILE), JSON.stringify(t), 0o600);
}
