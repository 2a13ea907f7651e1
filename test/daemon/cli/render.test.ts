import t from 'tap';
import * as render from '../../../daemon/src/cli/render.js';
import { CliError } from '../../../daemon/src/cli/client.js';
import { kindInfo } from '../../../daemon/src/api/kinds.js';
import * as fx from './print/fixtures.js';

const info = (kind: string) => kindInfo(kind)!;
const base: render.ListOptions = { allNamespaces: false, showLabels: false, labelColumns: [], noHeaders: false, namespace: 'default', now: fx.now };

t.test('an empty table says where nothing was found, on stderr', async (t) => {
  t.same(render.formatList([], info('Pod'), base), { stdout: '', stderr: 'No resources found in default namespace.' });
  t.same(render.formatList([], info('Pod'), { ...base, namespace: 'prod', output: 'wide' }), { stdout: '', stderr: 'No resources found in prod namespace.' });
  t.same(render.formatList([], info('Pod'), { ...base, allNamespaces: true }), { stdout: '', stderr: 'No resources found' });
  const json = JSON.parse(render.formatList([], info('Pod'), { ...base, output: 'json' }).stdout) as Record<string, unknown>;
  t.same(json, { apiVersion: 'v1', items: [], kind: 'List', metadata: { resourceVersion: '' } }, '-o json prints an empty List');
});

t.test('an unknown output format is refused with the formats that exist', async (t) => {
  t.throws(() => render.formatList(fx.pods, info('Pod'), { ...base, output: 'jsonpath' }), new CliError('error: unable to match a printer suitable for the output format "jsonpath", allowed formats are: json,name,wide,yaml'));
  t.throws(() => render.createWatchPrinter(info('Pod'), { ...base, output: 'xml' }), CliError);
});

t.test('-o json and -o yaml print one named object bare and anything else as a List', async (t) => {
  const one = JSON.parse(render.formatList(fx.deployments.slice(0, 1), info('Deployment'), { ...base, output: 'json', single: true }).stdout) as { kind: string };
  t.equal(one.kind, 'Deployment');
  const many = JSON.parse(render.formatList(fx.deployments.slice(0, 1), info('Deployment'), { ...base, output: 'json' }).stdout) as { kind: string; items: unknown[] };
  t.equal(many.kind, 'List');
  t.equal(many.items.length, 1);
  t.match(render.formatList(fx.deployments, info('Deployment'), { ...base, output: 'yaml' }).stdout, /^apiVersion: v1\nitems:\n- apiVersion: apps\/v1\n {2}kind: Deployment\n/);
  t.match(render.formatList(fx.deployments.slice(0, 1), info('Deployment'), { ...base, output: 'yaml', single: true }).stdout, /^apiVersion: apps\/v1\nkind: Deployment\nmetadata:\n/);
});

t.test('-o name prints one kind/name per line', async (t) => {
  t.equal(render.formatList(fx.jobs.slice(0, 2), info('Job'), { ...base, output: 'name' }).stdout, 'job.batch/once\njob.batch/queue');
});

t.test('a table for one kind ends without a newline; several kinds get kind/ names and a blank line between tables', async (t) => {
  t.equal(render.formatList(fx.configmaps, info('ConfigMap'), base).stdout, 'NAME       DATA   AGE\nsettings   3      5s');
  const a = render.formatList(fx.services.slice(0, 1), info('Service'), { ...base, multiKind: true }).stdout;
  const b = render.formatList(fx.deployments.slice(0, 1), info('Deployment'), { ...base, multiKind: true }).stdout;
  // main joins the sections with '\n'
  t.equal([a, b].join('\n'), [
    'NAME          TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE',
    'service/web   NodePort   10.43.0.10   <none>        80:30080/TCP   10m',
    '',
    'NAME                  READY   UP-TO-DATE   AVAILABLE   AGE',
    'deployment.apps/web   3/3     3            3           2d3h',
    '',
  ].join('\n'));
  const c = render.formatList(fx.services.slice(0, 1), info('Service'), { ...base, multiKind: true, noHeaders: true }).stdout;
  t.equal(c, 'service/web   NodePort   10.43.0.10   <none>   80:30080/TCP   10m', 'without headers, no separating blank line');
});

t.test('a watch event is one row, with the header unless it was already printed', async (t) => {
  t.equal(render.formatWatchEvent('ADDED', fx.configmaps[0]!, info('ConfigMap'), base), 'NAME       DATA   AGE\nsettings   3      5s');
  t.equal(render.formatWatchEvent('MODIFIED', fx.configmaps[0]!, info('ConfigMap'), { ...base, noHeaders: true }), 'settings   3     5s');
  t.equal(render.formatWatchEvent('MODIFIED', fx.configmaps[0]!, info('ConfigMap'), { ...base, output: 'name' }), 'configmap/settings');
});

t.test('a watch printer keeps every row aligned with the list printed before it', async (t) => {
  const w = render.createWatchPrinter(info('Namespace'), base);
  t.equal(w.list(fx.namespaces.slice(1)), 'NAME   STATUS        AGE\nprod   Terminating   2m\n');
  t.equal(w.event('ADDED', fx.namespaces[0]!), 'default   Active        45d\n');
  t.equal(w.event('DELETED', fx.namespaces[1]!), 'prod      Terminating   2m\n');
});

t.test('describe fetches the events and the related kinds its page needs', async (t) => {
  const asked: string[] = [];
  const related = await render.relatedFor(fx.deployments[0]!, {
    events: async () => fx.events.slice(2),
    list: async (kind) => { asked.push(kind); return []; },
  });
  t.same(asked, ['ReplicaSet']);
  t.equal(related.events.length, 1);
  const text = render.describe(fx.deployments[0]!, related, fx.now);
  t.match(text, /^Name:\s+web\n/);
  t.match(text, /\n {2}Normal {2}ScalingReplicaSet {2}10m {3}deployment-controller {2}Scaled up replica set web-5d8f to 3\n$/, 'pages end with a newline so pages join with two blank lines');
  const none: string[] = [];
  await render.relatedFor(fx.configmaps[0]!, { events: async () => [], list: async (kind) => { none.push(kind); return []; } });
  t.same(none, []);
});

t.test('rollout status and history keep the shape main.ts reads', async (t) => {
  t.same(render.rolloutStatus(fx.deployments[1]!), { done: false, message: 'Waiting for deployment "api" rollout to finish: 1 of 2 updated replicas are available...' });
  t.equal(render.rolloutHistory('Deployment', 'web', [{ revision: 1, changeCause: null }]), 'deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n\n');
  t.throws(() => render.rolloutHistory('Deployment', 'web', [{ revision: 1, changeCause: null }], 4), new CliError('error: unable to find the specified revision'));
});
