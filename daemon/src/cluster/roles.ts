/**
 * Leadership drives roles, level-triggered, in one place: when this member leads (and its first
 * entry of the term is committed) it starts the MQTT broker, points its own Bus at it and starts
 * the leader services (API server, controllers, cron) fenced to that term; when it no longer
 * leads (deposed, stepped down without quorum, or a new term) it stops them and the broker.
 * Every member's Bus follows the current leader's broker. After each transition the wanted
 * state is looked at again, so a flapping election ends in the state of the latest term.
 */
import type { Logger } from '../lib/logger.js';
import type { Bus } from '../broker/client.js';
import type { EmbeddedBroker } from '../broker/broker.js';
import type { SoftState, Member } from './raft/types.js';
import type { Fleet } from './fleet.js';

/** What runs on the leader for one term. */
export interface LeaderRole {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RolesDeps {
  fleet: Fleet;
  bus: Bus;
  logger: Logger;
  /** Start the broker (it listens on the configured port). */
  startBroker(): Promise<EmbeddedBroker>;
  /** The leader services for `term`, with every write fenced to it. */
  leaderRole(term: number, broker: EmbeddedBroker): LeaderRole;
  /** The MQTT URL of a member's broker (this member's own: loopback). */
  brokerUrl(member: Member | undefined, self: boolean, broker?: EmbeddedBroker): string | undefined;
  /** Called after every transition (client config, mDNS, sd_notify status). */
  changed?(state: { leading: boolean; term: number; leader?: string; broker?: EmbeddedBroker }): void;
}

export class Roles {
  readonly #d: RolesDeps;
  readonly #log: Logger;
  #leading: { term: number; broker: EmbeddedBroker; role: LeaderRole } | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #onSoft = (): void => this.kick();

  constructor(deps: RolesDeps) {
    this.#d = deps;
    this.#log = deps.logger.child({ component: 'roles' });
  }

  get leading(): boolean { return this.#leading !== undefined; }
  get broker(): EmbeddedBroker | undefined { return this.#leading?.broker; }

  /**
   * Resolves once a leader is known and this member's role follows it (or after timeoutMs):
   * a fleet of one is leading here; a member of a fleet without a majority just waits.
   */
  async settled(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const s = this.#d.fleet.replication.soft;
      const done = s.leader !== undefined && (s.leader !== this.#d.fleet.self.id || (this.#leading !== undefined && s.leaderReady));
      if (done && !this.#running) return true;
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  start(): void {
    this.#d.fleet.on('soft', this.#onSoft);
    this.#d.fleet.on('config', this.#onSoft);
    this.kick();
  }

  /** Look at the election state again (and again, until it holds still). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) { this.#again = true; return; }
    this.#running = (async () => {
      for (let i = 0; i < 100; i++) {
        this.#again = false;
        try {
          await this.#reconcile();
        } catch (err) {
          this.#log.error({ err: (err as Error).message }, 'changing role failed; trying again shortly');
          await new Promise((r) => setTimeout(r, 500).unref());
          this.#again = true;
        }
        if (!this.#again || this.#stopped) break;
      }
    })().finally(() => { this.#running = undefined; });
  }

  async #reconcile(): Promise<void> {
    const repl = this.#d.fleet.replication;
    const s: SoftState = repl.soft;
    const want = s.role === 'leader' && s.leaderReady && !this.#stopped ? s.term : undefined;
    if (this.#leading && this.#leading.term !== want) await this.#stepDown();
    if (want !== undefined && !this.#leading) await this.#lead(want);
    // every member's Bus follows the leader's broker
    const self = this.#d.fleet.self.id;
    const leader = repl.soft.leader;
    const url = this.#d.brokerUrl(leader ? this.#d.fleet.member(leader) : undefined, leader === self, this.#leading?.broker);
    if (url && (leader !== self || this.#leading)) this.#d.bus.setUrl(url);
    this.#d.changed?.({ leading: Boolean(this.#leading), term: repl.soft.term, ...(leader ? { leader } : {}), ...(this.#leading ? { broker: this.#leading.broker } : {}) });
  }

  async #lead(term: number): Promise<void> {
    const broker = await this.#d.startBroker();
    const url = this.#d.brokerUrl(this.#d.fleet.self, true, broker);
    if (url) this.#d.bus.setUrl(url);
    try {
      await this.#d.bus.waitConnected(5000);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'our own broker does not answer yet: starting the leader services anyway');
    }
    const role = this.#d.leaderRole(term, broker);
    this.#leading = { term, broker, role };
    await role.start();
    this.#log.info({ term, mqtt: broker.port }, 'leading: broker, API and controllers started');
  }

  async #stepDown(): Promise<void> {
    const l = this.#leading;
    if (!l) return;
    this.#leading = undefined;
    await l.role.stop().catch((err) => this.#log.warn({ err: (err as Error).message }, 'stopping the leader services failed'));
    await l.broker.close().catch((err) => this.#log.warn({ err: (err as Error).message }, 'stopping the broker failed'));
    this.#log.info({ term: l.term }, 'no longer leading: broker, API and controllers stopped (pods keep running)');
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#d.fleet.off('soft', this.#onSoft);
    this.#d.fleet.off('config', this.#onSoft);
    await this.#running;
    await this.#stepDown();
  }
}
