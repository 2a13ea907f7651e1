/**
 * Who may campaign and whose vote requests are answered, with configs that take effect when
 * appended (the dissertation's single-server changes).
 */
import type { ConfigAt, RaftLog } from './log.js';

/**
 * A voter of the latest config campaigns; so does a voter of the config before it while the
 * latest one (which may remove it) is not committed: its log may be the only complete one (a
 * leader of two that removed itself and was cut off at once, say). Consecutive configs differ by
 * one voter, so their majorities overlap and a win counted in the latest config is safe.
 */
export function mayCampaign(id: string, log: RaftLog, cfg: ConfigAt | undefined, commit: number): boolean {
  if (!cfg) return false;
  if (cfg.config.members.some((m) => m.id === id && m.voter)) return true;
  if (cfg.index <= commit) return false;
  return !!log.configAt(cfg.index - 1)?.config.members.some((m) => m.id === id && m.voter);
}

/**
 * Whether a (pre)vote request deserves an answer. A node without any config (a joiner) answers
 * none. Requests of non-members are ignored unless the candidate's log is at least as up to date
 * as ours: a removed node that missed its removal has an older log and is ignored, while an
 * up-to-date candidate may be in a config we do not have yet, or ours may be a stale uncommitted
 * one (the dissertation, 4.2.2: such a vote "may occasionally be needed to keep the cluster
 * available").
 */
export function considersVoteRequest(cfg: ConfigAt | undefined, members: ReadonlyMap<string, boolean>, log: RaftLog, m: { from: string; lastIndex: number; lastTerm: number }): boolean {
  if (!cfg) return false;
  return members.has(m.from) || log.isUpToDate(m.lastIndex, m.lastTerm);
}
