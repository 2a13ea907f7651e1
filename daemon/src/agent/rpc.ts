/**
 * Requests the leader forwards to this node (`pifleet logs`, `pifleet exec`): logs stream back in
 * batches (50 ms or 500 lines per message, then a final message without `more`), follow streams
 * end on `cancel` or when the container stops; exec collects exit code and output; prune removes
 * an orphaned pod's containers (orphans.ts) and answers once they are gone. Replies go straight
 * to the caller's response topic. The number of open streams is bounded.
 */
import type { ApiErrorBody, ApiResponse, NodeRpcRequest } from '../broker/topics.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { LABELS, type Runtime } from '../runtime/types.js';

export const BATCH_MS = 50;
export const BATCH_LINES = 500;
export const MAX_STREAMS = 64;

export interface ContainerLookup {
  namespace: string;
  pod: string;
  uid?: string;
  container: string;
  previous: boolean;
}

export class RpcError extends Error {
  constructor(readonly reason: 'NotFound' | 'BadRequest' | 'InternalError', message: string) {
    super(message);
    this.name = 'RpcError';
  }
}

export interface RpcDeps {
  runtime: Runtime;
  clock: Clock;
  logger: Logger;
  publish(topic: string, res: ApiResponse): void;
  /** The container id for a request; throws RpcError. */
  find(q: ContainerLookup): Promise<{ id: string; running: boolean }>;
  /** Remove the orphaned pod with this uid; resolves when its containers are gone; throws RpcError (NotFound). */
  prune(uid: string): Promise<void>;
}

/**
 * The container a request names, found by its labels among this agent's containers (baseLabels):
 * the newest attempt, or the one before it for `previous`.
 */
export function containerFinder(runtime: Runtime, baseLabels: Record<string, string>, nodeName: string): RpcDeps['find'] {
  return async (q) => {
    const labels: Record<string, string> = {
      ...baseLabels,
      [LABELS.podNamespace]: q.namespace,
      [LABELS.podName]: q.pod,
      [LABELS.container]: q.container,
      ...(q.uid ? { [LABELS.podUid]: q.uid } : {}),
    };
    let list;
    try {
      list = await runtime.listContainers(labels);
    } catch (err) {
      throw new RpcError('InternalError', `cannot list containers: ${(err as Error).message}`);
    }
    const sorted = list
      .map((c) => ({ c, attempt: Number(c.labels[LABELS.attempt] ?? '0') }))
      .sort((a, b) => b.attempt - a.attempt || b.c.createdAt - a.c.createdAt);
    const pick = q.previous ? sorted[1] : sorted[0];
    if (!pick) {
      if (q.previous) throw new RpcError('BadRequest', `previous terminated container "${q.container}" in pod "${q.pod}" not found`);
      throw new RpcError('NotFound', `container "${q.container}" in pod "${q.pod}" (namespace ${q.namespace}) not found on node ${nodeName}: it may not have been created yet`);
    }
    const d = await runtime.inspect(pick.c.id);
    return { id: pick.c.id, running: Boolean(d?.running) };
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : undefined);

export class RpcHandler {
  #streams = new Map<string, AbortController>();

  constructor(private readonly deps: RpcDeps) {}

  get openStreams(): number {
    return this.#streams.size;
  }

  handle(req: NodeRpcRequest): void {
    if (!req || typeof req !== 'object' || typeof req.id !== 'string' || typeof req.replyTo !== 'string') return;
    const params = req.params && typeof req.params === 'object' ? req.params : {};
    if (req.op === 'cancel') {
      const target = str(params.target) ?? req.id;
      this.#streams.get(target)?.abort();
      return;
    }
    const fail = (err: unknown): void => {
      const body: ApiErrorBody = err instanceof RpcError
        ? { reason: err.reason, message: err.message }
        : { reason: 'InternalError', message: err instanceof Error ? err.message : String(err) };
      this.deps.publish(req.replyTo, { id: req.id, status: 'error', error: body });
    };
    const run = req.op === 'logs' ? this.#logs(req, params)
      : req.op === 'exec' ? this.#exec(req, params)
        : req.op === 'prune' ? this.#prune(req, params)
          : Promise.reject(new RpcError('BadRequest', `unknown node operation ${JSON.stringify(req.op)}: logs, exec, cancel, prune`));
    run.catch(fail);
  }

  /** End every stream (agent stop). */
  stop(): void {
    for (const a of this.#streams.values()) a.abort();
    this.#streams.clear();
  }

  #lookup(params: Record<string, unknown>): ContainerLookup {
    const pod = str(params.pod) ?? str(params.name);
    const container = str(params.container);
    if (!pod) throw new RpcError('BadRequest', 'missing "pod"');
    if (!container) throw new RpcError('BadRequest', 'missing "container"');
    const uid = str(params.uid);
    return { namespace: str(params.namespace) ?? 'default', pod, container, previous: params.previous === true, ...(uid ? { uid } : {}) };
  }

  async #logs(req: NodeRpcRequest, params: Record<string, unknown>): Promise<void> {
    const q = this.#lookup(params);
    const found = await this.deps.find(q);
    const follow = params.follow === true && !q.previous;
    if (follow && this.#streams.size >= MAX_STREAMS) throw new RpcError('InternalError', `too many open log streams on this node (${MAX_STREAMS}); end some with Ctrl-C and retry`);
    const tail = num(params.tailLines) ?? num(params.tail);
    const since = num(params.sinceSeconds);
    const abort = new AbortController();
    if (this.#streams.has(req.id)) throw new RpcError('BadRequest', `a stream with id ${req.id} is already open`);
    this.#streams.set(req.id, abort);
    let seq = 0;
    let batch: string[] = [];
    let timer: TimerHandle | undefined;
    const flush = (): void => {
      timer?.cancel();
      timer = undefined;
      if (batch.length === 0) return;
      const lines = batch;
      batch = [];
      this.deps.publish(req.replyTo, { id: req.id, status: 'ok', more: true, seq: seq++, data: { lines } });
    };
    try {
      await this.deps.runtime.logs(found.id, {
        ...(tail !== undefined && tail >= 0 ? { tail } : {}),
        follow: follow && found.running,
        timestamps: params.timestamps === true,
        ...(since !== undefined && since > 0 ? { since: this.deps.clock.now() - since * 1000 } : {}),
        signal: abort.signal,
      }, (_stream, line) => {
        batch.push(line);
        if (batch.length >= BATCH_LINES) flush();
        else timer ??= this.deps.clock.setTimeout(flush, BATCH_MS);
      });
    } catch (err) {
      if (!abort.signal.aborted) {
        flush();
        throw err instanceof RpcError ? err : new RpcError('InternalError', `reading logs of container ${q.container} in pod ${q.namespace}/${q.pod}: ${(err as Error).message}`);
      }
    } finally {
      this.#streams.delete(req.id);
    }
    flush();
    this.deps.publish(req.replyTo, { id: req.id, status: 'ok', seq: seq++ });
  }

  async #prune(req: NodeRpcRequest, params: Record<string, unknown>): Promise<void> {
    const uid = str(params.uid);
    if (!uid) throw new RpcError('BadRequest', 'missing "uid" (the uid of the orphaned pod to remove)');
    await this.deps.prune(uid);
    this.deps.publish(req.replyTo, { id: req.id, status: 'ok', data: { uid } });
  }

  async #exec(req: NodeRpcRequest, params: Record<string, unknown>): Promise<void> {
    const q = this.#lookup({ ...params, previous: false });
    const command = params.command;
    if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === 'string')) {
      throw new RpcError('BadRequest', '"command" must be a non-empty array of strings');
    }
    const found = await this.deps.find(q);
    if (!found.running) throw new RpcError('BadRequest', `container ${q.container} is not running in pod ${q.namespace}/${q.pod}: cannot exec into a stopped container`);
    const timeoutSeconds = num(params.timeoutSeconds) ?? 60;
    try {
      const r = await this.deps.runtime.exec(found.id, command as string[], { timeoutMs: Math.max(1, timeoutSeconds) * 1000 });
      this.deps.publish(req.replyTo, { id: req.id, status: 'ok', data: { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr } });
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'Timeout') throw new RpcError('InternalError', `command ${JSON.stringify(command)} did not finish within ${timeoutSeconds}s (raise --timeout)`);
      throw new RpcError('InternalError', `exec in container ${q.container} of pod ${q.namespace}/${q.pod} failed: ${e.message}`);
    }
  }
}
