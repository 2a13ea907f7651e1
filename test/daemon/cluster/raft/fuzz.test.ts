/**
 * Randomized cluster schedules (hashicorp/raft fuzzy style), each with its own seed: 3- and
 * 5-node fleets under partitions, loss, delay, reordering, crashes, storage failures,
 * membership changes, compactions and transfers, then healed; every safety property is
 * checked over the whole timeline and liveness after healing (see harness.ts).
 *
 *   PIFLEET_FUZZ_SCHEDULES=20000   more schedules (default 2000)
 *   PIFLEET_FUZZ_EVENTS=150        chaos events per schedule (default 60)
 *   PIFLEET_FUZZ_FIRST_SEED=5000   start at another seed (default 1)
 *   PIFLEET_FUZZ_SEED=1234         replay one schedule (as printed by a failure)
 */
import t from 'tap';
import { runSchedule, type ScheduleResult } from './harness.js';

const env = (name: string, def: number): number => {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : def;
};

const replay = process.env.PIFLEET_FUZZ_SEED ? env('PIFLEET_FUZZ_SEED', 1) : undefined;
const schedules = replay ? 1 : env('PIFLEET_FUZZ_SCHEDULES', 2000);
const events = env('PIFLEET_FUZZ_EVENTS', 60);
const first = replay ?? env('PIFLEET_FUZZ_FIRST_SEED', 1);

// About 12 ms per 60-event schedule here; the default (2000) runs in about 25 s. The runner's
// per-file timeout (30 s by default) must not cut a larger run short.
t.setTimeout(Math.max(120_000, schedules * events * 3));

/** The fleet size is part of the seed, so a seed replays exactly. */
const sizeOf = (seed: number): number => (seed % 2 ? 3 : 5);

for (const size of [3, 5]) {
  const seeds: number[] = [];
  for (let s = first; s < first + schedules; s++) if (sizeOf(s) === size) seeds.push(s);
  if (!seeds.length) continue;
  t.test(`${size}-node fleets keep every safety property and recover after healing (${seeds.length} schedules)`, async (t) => {
    const started = Date.now();
    const failed: ScheduleResult[] = [];
    const totals = { simMs: 0, messages: 0, leaders: 0, proposals: 0, acked: 0, crashes: 0, persistFailed: 0, configChanges: 0, compactions: 0 };
    for (const seed of seeds) {
      const r = runSchedule(seed, { size, events });
      totals.simMs += r.simMs;
      totals.messages += r.messages;
      totals.leaders += r.leaders;
      totals.proposals += r.stats.proposals;
      totals.acked += r.stats.acked;
      totals.crashes += r.stats.crashes;
      totals.persistFailed += r.stats.persistFailed;
      totals.configChanges += r.stats.configChanges;
      totals.compactions += r.stats.compactions;
      if (r.errors.length) failed.push(r);
    }
    const n = seeds.length;
    t.comment(`${n} schedules of ${events} events in ${Date.now() - started} ms; per schedule: ${Math.round(totals.simMs / n)} simulated ms, ` +
      `${Math.round(totals.messages / n)} messages, ${(totals.leaders / n).toFixed(1)} leaders, ${(totals.proposals / n).toFixed(1)} proposals, ` +
      `${(totals.crashes / n).toFixed(1)} crashes, ${(totals.persistFailed / n).toFixed(1)} failed writes, ${(totals.configChanges / n).toFixed(1)} config changes, ${(totals.compactions / n).toFixed(1)} compactions`);
    for (const r of failed.slice(0, 10)) {
      t.fail(`seed ${r.seed} (${r.size} nodes) broke: ${r.errors.slice(0, 3).join(' | ')}` +
        ` -- replay: PIFLEET_FUZZ_SEED=${r.seed} npx tap --disable-coverage test/daemon/cluster/raft/fuzz.test.ts`);
    }
    t.equal(failed.length, 0, `${failed.length} of ${n} schedules broke an invariant${failed.length ? ` (seeds ${failed.map((r) => r.seed).slice(0, 20).join(', ')})` : ''}`);
  });
}
