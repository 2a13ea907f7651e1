import t from 'tap';
import { buildEnv, ContainerConfigError, expand, expandCommand, fieldValue, resourceValue, type EnvContext } from '../../../daemon/src/agent/env.js';
import type { Container, KObject, Pod } from '../../../daemon/src/api/types.js';

const pod: Pod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', labels: { app: 'web' }, annotations: { note: 'x y' } },
  spec: { nodeName: 'pi1', serviceAccountName: 'robot', containers: [{ name: 'c', image: 'i:1', resources: { limits: { memory: '64Mi', cpu: '250m' }, requests: { memory: '32Mi' } } }] },
};
const cm: KObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'shop' }, data: { A: '1', B: 'two' } };
const secret: KObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec', namespace: 'shop' }, data: { pw: Buffer.from('hunter2').toString('base64') } };
const ctx = (over: Partial<EnvContext> = {}): EnvContext => ({
  pod, podIP: '172.17.0.5', hostIP: '10.0.0.2', nodeCpuCores: 4, nodeMemoryBytes: 4 * 1024 ** 3,
  sources: {
    configMap: (ns, n) => (ns === 'shop' && n === 'cfg' ? cm : undefined),
    secret: (ns, n) => (ns === 'shop' && n === 'sec' ? secret : undefined),
  },
  ...over,
});

t.test('expands $(VAR) by the kubelet rules: $$ escapes, unknown and unclosed references stay literal', async (t) => {
  const vars: Record<string, string> = { A: 'x', B: 'y' };
  const look = (n: string): string | undefined => vars[n];
  t.equal(expand('$(A)-$(B)', look), 'x-y');
  t.equal(expand('$$(A)', look), '$(A)');
  t.equal(expand('$(C)', look), '$(C)');
  t.equal(expand('$(A', look), '$(A');
  t.equal(expand('cost $5 $', look), 'cost $5 $');
  t.equal(expand('$$$(A)', look), '$x');
  t.equal(expand('$()', look), '$()');
});

t.test('builds env from envFrom then env in order, later values win and see earlier ones', async (t) => {
  const c: Container = {
    name: 'c', image: 'i',
    envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }, { secretRef: { name: 'sec' } }],
    env: [
      { name: 'A', value: 'first' },
      { name: 'B', value: '$(A)-$(CFG_B)-$(pw)-$(LATER)' },
      { name: 'LATER', value: 'l' },
      { name: 'A', value: 'again' },
    ],
  };
  const env = buildEnv(c, ctx());
  const map = new Map(env);
  t.equal(map.get('CFG_A'), '1');
  t.equal(map.get('pw'), 'hunter2', 'secret data is decoded');
  t.equal(map.get('B'), 'first-two-hunter2-$(LATER)', 'only variables defined earlier are expanded');
  t.equal(map.get('A'), 'again');
  t.equal(env[env.length - 1]?.[0], 'A', 'a redefined variable moves to the end');
  t.same(expandCommand({ name: 'c', command: ['echo', '$(A)'], args: ['$(B)', '$$(A)'] }, env), { command: ['echo', 'again'], args: ['first-two-hunter2-$(LATER)', '$(A)'] });
  t.same(expandCommand({ name: 'c' }, env), {}, 'no command and args stay unset (image defaults)');
});

t.test('valueFrom refers to ConfigMap and Secret keys with kubelet error messages and optional', async (t) => {
  const env = (e: Container['env']): Array<[string, string]> => buildEnv({ name: 'c', env: e }, ctx());
  t.same(env([{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'B' } } }]), [['X', 'two']]);
  t.same(env([{ name: 'X', valueFrom: { secretKeyRef: { name: 'sec', key: 'pw' } } }]), [['X', 'hunter2']]);
  t.throws(() => env([{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'B' } } }]), new ContainerConfigError('configmap "nope" not found'));
  t.throws(() => env([{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }]), { message: "couldn't find key k in ConfigMap shop/cfg" });
  t.throws(() => env([{ name: 'X', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } }]), { message: "couldn't find key k in Secret shop/sec" });
  t.throws(() => env([{ name: 'X', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }]), { message: 'secret "gone" not found' });
  t.throws(() => buildEnv({ name: 'c', envFrom: [{ configMapRef: { name: 'nope' } }] }, ctx()), { message: 'configmap "nope" not found' });
  t.same(env([{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'B', optional: true } } }, { name: 'Y', valueFrom: { secretKeyRef: { name: 'sec', key: 'k', optional: true } } }]), []);
  t.same(buildEnv({ name: 'c', envFrom: [{ secretRef: { name: 'nope', optional: true } }] }, ctx()), []);
});

t.test('fieldRef and resourceFieldRef give pod and resource facts', async (t) => {
  t.equal(fieldValue('metadata.name', ctx()), 'web-1');
  t.equal(fieldValue('metadata.namespace', ctx()), 'shop');
  t.equal(fieldValue('metadata.uid', ctx()), 'u-1');
  t.equal(fieldValue("metadata.labels['app']", ctx()), 'web');
  t.equal(fieldValue("metadata.annotations['note']", ctx()), 'x y');
  t.equal(fieldValue('spec.nodeName', ctx()), 'pi1');
  t.equal(fieldValue('spec.serviceAccountName', ctx()), 'robot');
  t.equal(fieldValue('status.podIP', ctx()), '172.17.0.5');
  t.equal(fieldValue('status.hostIP', ctx()), '10.0.0.2');
  t.throws(() => fieldValue('spec.bogus', ctx()), ContainerConfigError);
  const c = pod.spec.containers[0] as Container;
  t.equal(resourceValue({ resource: 'limits.memory' }, c, ctx()), String(64 * 1024 * 1024));
  t.equal(resourceValue({ resource: 'limits.memory', divisor: '1Mi' }, c, ctx()), '64');
  t.equal(resourceValue({ resource: 'limits.cpu' }, c, ctx()), '1', 'cpu rounds up to whole cores');
  t.equal(resourceValue({ resource: 'limits.cpu', divisor: '1m' }, c, ctx()), '250');
  t.equal(resourceValue({ resource: 'requests.memory', divisor: '1Mi' }, c, ctx()), '32');
  t.equal(resourceValue({ resource: 'limits.cpu' }, { name: 'n' }, ctx()), '4', 'no limit: node capacity');
});
