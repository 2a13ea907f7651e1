import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, defaultPullPolicy } from '../../../daemon/src/agent/agent.js';
import { createDockerRuntime } from '../../../daemon/src/runtime/docker.js';
import { FakeClock } from '../../../daemon/src/lib/clock.js';
import { createSeededRandom } from '../../../daemon/src/lib/random.js';
import { silentLogger } from '../../../daemon/src/lib/logger.js';
import { createMemoryRecorder } from '../../../daemon/src/events/recorder.js';
import type { NodePodsMessage, NodeStatusMessage } from '../../../daemon/src/broker/topics.js';

t.test('an agent whose Docker engine is unreachable starts anyway and reports the node NotReady', async (t) => {
  const dir = mkdtempSync('/dev/shm/pf-agent-unit-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'no-docker.sock');
  const clock = new FakeClock(Date.now());
  const logger = silentLogger();
  const runtime = createDockerRuntime({ logger, clock, host: `unix://${sock}` });
  const nodes: NodeStatusMessage[] = [];
  const pods: NodePodsMessage[] = [];
  const agent = new Agent({
    runtime, clock, random: createSeededRandom(1), logger, events: createMemoryRecorder(),
    config: {
      cluster: 'unit', nodeName: 'n1', runtimeDir: join(dir, 'rt'), heartbeatSeconds: 10, version: '0.0.0',
      agent: { crashLoopBackoffBaseSeconds: 10, crashLoopBackoffMaxSeconds: 300, crashLoopResetSeconds: 600, resyncSeconds: 60 },
      node: { labels: {}, taints: [], address: '10.1.1.1' }, dockerHost: `unix://${sock}`,
    },
    publishNode: (m) => nodes.push(m), publishPods: (m) => pods.push(m), publishReply: () => undefined,
  });
  t.teardown(async () => { await agent.stop(); runtime.close(); });
  await agent.start();
  const ready = agent.nodeObject().status?.conditions?.find((c) => c.type === 'Ready');
  t.equal(ready?.status, 'False');
  t.match(ready?.message, `Docker is not reachable at unix://${sock}: check that dockerd is running (systemctl status docker)`);
  t.equal(nodes.length, 1, 'node status published once at start');
  t.equal(nodes[0]?.online, true);
  t.equal(nodes[0]?.object?.metadata.name, 'n1');
  // heartbeats publish the node again, not more often
  clock.advance(9_000);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(nodes.length, 1, JSON.stringify(nodes.map((n) => n.object?.status?.conditions?.find((c) => c.type === "Ready"))));
  clock.advance(1_000);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(nodes.length, 2, 'a heartbeat after heartbeatSeconds');
  // desired state: a lower term than seen is ignored
  agent.setDesired({ term: 5, revision: 1, pods: [], configMaps: [], secrets: [] });
  agent.setDesired({ term: 4, revision: 2, pods: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x', namespace: 'default', uid: 'u1' }, spec: { containers: [{ name: 'c', image: 'i:1' }] } }], configMaps: [], secrets: [] });
  // malformed payloads (they come from MQTT) are ignored, never thrown
  t.doesNotThrow(() => agent.setDesired({ term: 9, pods: [null, { metadata: {} }, 'x'], configMaps: [{}], secrets: 'no' } as never));
  t.doesNotThrow(() => agent.setDesired(null as never));
  t.doesNotThrow(() => agent.handleRpc({ id: 'r', op: 'exec', replyTo: 't', params: null } as never));
  agent.republish();
  await new Promise((r) => setTimeout(r, 20));
  t.same(pods[pods.length - 1]?.pods, [], 'the stale term did not add a pod');
  t.ok((pods[pods.length - 1]?.seq ?? 0) > Date.now() - 60_000, 'seq starts from the clock, so it rises across restarts');
});

t.test('defaults the pull policy like Kubernetes: Always for :latest or no tag', async (t) => {
  t.equal(defaultPullPolicy('busybox'), 'Always');
  t.equal(defaultPullPolicy('busybox:latest'), 'Always');
  t.equal(defaultPullPolicy('registry:5000/busybox'), 'Always');
  t.equal(defaultPullPolicy('registry:5000/busybox:1.36'), 'IfNotPresent');
  t.equal(defaultPullPolicy('busybox@sha256:abc'), 'IfNotPresent');
});
