import t, { type Test } from 'tap';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, ConfigError, ConfigSchema, ENV_KEYS } from '../../daemon/src/config.js';

const ROOT = resolve(import.meta.dirname, '../..');

function tmpFile(t: Test, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'pifleet.yaml');
  writeFileSync(f, text);
  return f;
}

t.test('config/pifleet.yaml loads and gives the built-in defaults', async (t) => {
  const fromFile = loadConfig({ file: join(ROOT, 'config/pifleet.yaml'), env: {}, hostname: 'pi1' });
  const defaults = loadConfig({ env: {}, hostname: 'pi1' });
  const { configFile: _f, ...rest } = fromFile;
  t.same(rest, defaults, 'the documented values are the defaults');
});

t.test('config/pifleet.yaml documents every key of the schema and every environment variable', async (t) => {
  const text = readFileSync(join(ROOT, 'config/pifleet.yaml'), 'utf8');
  const keys = (shape: Record<string, unknown>, prefix = ''): string[] => Object.entries(shape).flatMap(([k, v]) => {
    const inner = (v as { def?: { innerType?: { shape?: Record<string, unknown> }; shape?: Record<string, unknown> }; shape?: Record<string, unknown> });
    const sub = inner.shape ?? inner.def?.innerType?.shape ?? inner.def?.shape;
    return sub ? [k, ...keys(sub, `${prefix}${k}.`)] : [k];
  });
  for (const k of keys(ConfigSchema.shape as Record<string, unknown>)) t.match(text, new RegExp(`^\\s*#?\\s*${k}:`, 'm'), `key ${k}`);
  for (const e of Object.keys(ENV_KEYS)) t.match(text, e, `env ${e}`);
});

t.test('flags override environment variables, which override the file', async (t) => {
  const f = tmpFile(t, 'cluster: fromfile\nmqtt:\n  port: 1111\nheartbeatSeconds: 5\n');
  const c = loadConfig({ file: f, env: { PIFLEET_MQTT_PORT: '2222', PIFLEET_CLUSTER: 'fromenv' }, flags: { cluster: 'fromflag' }, hostname: 'x' });
  t.equal(c.cluster, 'fromflag');
  t.equal(c.mqtt.port, 2222);
  t.equal(c.heartbeatSeconds, 5);
  t.equal(c.nodeName, 'x');
});

t.test('a bad value in the file is reported as FILE:LINE:COL key: reason', async (t) => {
  const f = tmpFile(t, 'cluster: ok\nmqtt:\n  port: 99999\n');
  const err = t.throws(() => loadConfig({ file: f, env: {} })) as ConfigError;
  t.type(err, ConfigError);
  t.match(err.problems[0], new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:9 mqtt.port: `));
});

t.test('an unknown key is an error that names it', async (t) => {
  const f = tmpFile(t, 'clustr: typo\n');
  const err = t.throws(() => loadConfig({ file: f, env: {} })) as ConfigError;
  t.match(err.message, /clustr/);
});

t.test('a bad environment variable is reported by its name', async (t) => {
  const err = t.throws(() => loadConfig({ env: { PIFLEET_MQTT_PORT: 'abc' } })) as ConfigError;
  t.match(err.message, /PIFLEET_MQTT_PORT=abc: not a number/);
  const err2 = t.throws(() => loadConfig({ env: { PIFLEET_CLUSTER: 'Bad_Name' } })) as ConfigError;
  t.match(err2.message, /PIFLEET_CLUSTER cluster: /);
});

t.test('a section with only comments below it means its defaults', async (t) => {
  const f = tmpFile(t, 'docker:\n  # host: unix:///x\nnode:\n');
  const c = loadConfig({ file: f, env: {} });
  t.same(c.docker, {});
  t.same(c.node.labels, {});
});

t.test('host names become valid node names', async (t) => {
  t.equal(loadConfig({ env: {}, hostname: 'My_Pi.Local' }).nodeName, 'my-pi.local');
});

t.test('the limits section sets the API server ceilings, with defaults for what it leaves out', async (t) => {
  t.same(loadConfig({ env: {} }).limits, { maxReplicas: 1000, maxParallelism: 1000, maxCompletions: 1000 });
  const f = tmpFile(t, 'limits:\n  maxReplicas: 50\n');
  t.same(loadConfig({ file: f, env: {} }).limits, { maxReplicas: 50, maxParallelism: 1000, maxCompletions: 1000 });
});

t.test('a ceiling that is not a positive integer is reported as FILE:LINE:COL key: reason', async (t) => {
  const f = tmpFile(t, 'limits:\n  maxParallelism: 0\n  maxCompletions: 2.5\n');
  const err = t.throws(() => loadConfig({ file: f, env: {} })) as ConfigError;
  t.match(err.problems.join('\n'), new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:19 limits.maxParallelism: `));
  t.match(err.problems.join('\n'), /:3:19 limits\.maxCompletions: /);
  const typo = tmpFile(t, 'limits:\n  maxReplica: 5\n');
  t.match((t.throws(() => loadConfig({ file: typo, env: {} })) as ConfigError).message, /maxReplica/);
});
