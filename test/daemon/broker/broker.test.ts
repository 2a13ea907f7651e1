import t, { type Test } from 'tap';
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../../../daemon/src/broker/broker.js';
import { createTokenAuthenticator } from '../../../daemon/src/broker/auth.js';
import { Bus, topicMatches } from '../../../daemon/src/broker/client.js';
import { topicsFor } from '../../../daemon/src/broker/topics.js';
import { silentLogger } from '../../../daemon/src/lib/logger.js';

const TOKEN = 'broker-test-token-0123456789';

async function broker(t: Test, wsPort = 0): Promise<EmbeddedBroker> {
  const b = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsPort, auth: createTokenAuthenticator(TOKEN), logger: silentLogger() });
  t.teardown(() => b.close());
  return b;
}

t.test('refuses anonymous clients and wrong tokens, admits the token with any user name', async (t) => {
  const b = await broker(t);
  const url = `mqtt://127.0.0.1:${b.port}`;
  await t.rejects(mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3000 }), /Not authorized|Bad username or password/i);
  await t.rejects(mqtt.connectAsync(url, { username: 'u', password: 'wrong-token-xxxxxxxx', reconnectPeriod: 0, connectTimeout: 3000 }), /Not authorized|Bad username or password/i);
  const c = await mqtt.connectAsync(url, { username: 'anyone', password: TOKEN, reconnectPeriod: 0 });
  t.ok(c.connected);
  await c.endAsync();
});

t.test('keeps retained messages for late subscribers and delivers the last will', async (t) => {
  const b = await broker(t);
  const url = `mqtt://127.0.0.1:${b.port}`;
  const topics = topicsFor('c1');
  const node = await mqtt.connectAsync(url, {
    username: 'n1', password: TOKEN, reconnectPeriod: 0, clientId: 'node-n1',
    will: { topic: topics.nodeStatus('n1'), payload: Buffer.from(JSON.stringify({ node: 'n1', online: false, heartbeat: 0 })), retain: true, qos: 1 },
  });
  await node.publishAsync(topics.nodeStatus('n1'), JSON.stringify({ node: 'n1', online: true, heartbeat: 1 }), { retain: true, qos: 1 });
  const late = await mqtt.connectAsync(url, { username: 'w', password: TOKEN, reconnectPeriod: 0 });
  t.teardown(() => late.endAsync());
  const seen: unknown[] = [];
  late.on('message', (_t, p) => seen.push(JSON.parse(p.toString())));
  await late.subscribeAsync(topics.nodeStatusAll, { qos: 1 });
  for (let i = 0; i < 50 && seen.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
  t.match(seen[0], { node: 'n1', online: true }, 'the retained status');
  node.stream.destroy(); // connection lost without DISCONNECT: the will fires
  for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.match(seen[1], { node: 'n1', online: false }, 'the last will marks the node offline');
});

t.test('serves MQTT over WebSocket with the same authentication', async (t) => {
  const b = await broker(t, 0);
  t.equal(b.wsPort, undefined, 'wsPort 0 turns WebSocket off');
  // pick a free port for ws by listening on 0 through a throwaway server
  const { createServer } = await import('node:net');
  const free = await new Promise<number>((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });
  const wb = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsPort: free, auth: createTokenAuthenticator(TOKEN), logger: silentLogger() });
  t.teardown(() => wb.close());
  const c = await mqtt.connectAsync(`ws://127.0.0.1:${free}`, { username: 'w', password: TOKEN, reconnectPeriod: 0 });
  t.ok(c.connected, 'a WebSocket client connects with the token');
  await c.endAsync();
  await t.rejects(mqtt.connectAsync(`ws://127.0.0.1:${free}`, { reconnectPeriod: 0, connectTimeout: 3000 }), /Not authorized|Bad username or password/i);
});

t.test('a busy port is reported with what to check', async (t) => {
  const b = await broker(t);
  await t.rejects(EmbeddedBroker.start({ host: '127.0.0.1', port: b.port, wsPort: 0, auth: createTokenAuthenticator(TOKEN), logger: silentLogger() }), new RegExp(`${b.port}`));
});

t.test('the Bus dispatches JSON payloads to matching subscriptions only', async (t) => {
  const b = await broker(t);
  const bus = new Bus({ url: `mqtt://127.0.0.1:${b.port}`, token: TOKEN, clientId: 'bus1', username: 'bus', logger: silentLogger() });
  t.teardown(() => bus.close(true));
  await bus.waitConnected(5000);
  const got: Array<[string, unknown]> = [];
  const off = await bus.subscribeAcked('a/+/c', (topic, payload) => got.push([topic, payload]));
  await bus.publish('a/b/c', { x: 1 });
  await bus.publish('a/b/d', { x: 2 });
  for (let i = 0; i < 50 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
  off();
  await bus.publish('a/b/c', { x: 3 });
  await new Promise((r) => setTimeout(r, 100));
  t.same(got, [['a/b/c', { x: 1 }]]);
});

t.test('topic filters match MQTT wildcards', async (t) => {
  t.ok(topicMatches('a/+/c', 'a/b/c'));
  t.notOk(topicMatches('a/+/c', 'a/b/c/d'));
  t.ok(topicMatches('a/#', 'a/b/c/d'));
  t.ok(topicMatches('a/#', 'a'));
  t.notOk(topicMatches('a/b', 'a/c'));
});

t.test('the topic map parses request and node topics and rejects others', async (t) => {
  const tp = topicsFor('fleet');
  t.same(tp.parseRequest('pifleet/fleet/api/cli-1/request/get'), { client: 'cli-1', op: 'get' });
  t.equal(tp.parseRequest('pifleet/other/api/cli-1/request/get'), undefined);
  t.equal(tp.parseRequest('pifleet/fleet/api/cli-1/response/get'), undefined);
  t.equal(tp.parseNode('pifleet/fleet/nodes/pi1/status'), 'pi1');
  t.equal(tp.parseNode('pifleet/fleet/nodes/pi1'), undefined);
});
