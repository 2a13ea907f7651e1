import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { asList, objectName, printTable, toJson, toYamlText, WatchPrinter, type TableOptions } from '../../../../daemon/src/cli/print/get.js';
import * as fx from './fixtures.js';

const plain: TableOptions = { wide: false, allNamespaces: false, showLabels: false, labelColumns: [], noHeaders: false, withKind: false, now: fx.now };
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

t.test('deployments: READY UP-TO-DATE AVAILABLE AGE, and -o wide adds containers, images and selector', async (t) => {
  t.equal(printTable('Deployment', fx.deployments, plain), lines(
    'NAME   READY   UP-TO-DATE   AVAILABLE   AGE',
    'web    3/3     3            3           2d3h',
    'api    1/2     2            1           45s',
  ));
  t.equal(printTable('Deployment', fx.deployments, { ...plain, wide: true }), lines(
    'NAME   READY   UP-TO-DATE   AVAILABLE   AGE    CONTAINERS    IMAGES                    SELECTOR',
    'web    3/3     3            3           2d3h   web,sidecar   nginx:1.25,busybox:1.36   app=web',
    'api    1/2     2            1           45s    api           registry.local/api:v2     app=api,tier in (be,fe)',
  ));
});

t.test('-A puts NAMESPACE first and --show-labels adds LABELS last', async (t) => {
  t.equal(printTable('Deployment', fx.deployments, { ...plain, allNamespaces: true, showLabels: true }), lines(
    'NAMESPACE   NAME   READY   UP-TO-DATE   AVAILABLE   AGE    LABELS',
    'default     web    3/3     3            3           2d3h   app=web,tier=fe',
    'prod        api    1/2     2            1           45s    app=api',
  ));
});

t.test('-L adds one upper-cased column per label key, empty where the label is missing', async (t) => {
  t.equal(printTable('Deployment', fx.deployments, { ...plain, labelColumns: ['tier,app.kubernetes.io/app'] }), lines(
    'NAME   READY   UP-TO-DATE   AVAILABLE   AGE    TIER   APP',
    'web    3/3     3            3           2d3h   fe     ',
    'api    1/2     2            1           45s           ',
  ));
  t.equal(printTable('Deployment', fx.deployments, { ...plain, labelColumns: ['app'], noHeaders: true }), lines(
    'web   3/3   3     3     2d3h   web',
    'api   1/2   2     1     45s    api',
  ), '--no-headers lays out the rows alone (each column still at least 6 wide)');
});

t.test('pods: READY STATUS RESTARTS AGE, wide adds IP NODE NOMINATED NODE READINESS GATES', async (t) => {
  t.equal(printTable('Pod', fx.pods, plain), lines(
    'NAME                   READY   STATUS      RESTARTS   AGE',
    'web-5d8f7c6b4d-abcde   1/1     Running     0          5m',
    'job-once-x7k2p         0/1     Completed   0          2m30s',
  ));
  t.equal(printTable('Pod', fx.pods, { ...plain, wide: true }), lines(
    'NAME                   READY   STATUS      RESTARTS   AGE     IP          NODE   NOMINATED NODE   READINESS GATES',
    'web-5d8f7c6b4d-abcde   1/1     Running     0          5m      10.42.0.7   pi-2   <none>           <none>',
    'job-once-x7k2p         0/1     Completed   0          2m30s   <none>      pi-1   <none>           <none>',
  ));
});

t.test('services: TYPE CLUSTER-IP EXTERNAL-IP PORT(S) with nodePorts, wide adds SELECTOR', async (t) => {
  t.equal(printTable('Service', fx.services, plain), lines(
    'NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)         AGE',
    'web    NodePort    10.43.0.10   <none>        80:30080/TCP    10m',
    'dns    ClusterIP   10.43.0.11   <none>        53/UDP,53/TCP   3h5m',
  ));
  t.equal(printTable('Service', fx.services, { ...plain, wide: true }), lines(
    'NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)         AGE    SELECTOR',
    'web    NodePort    10.43.0.10   <none>        80:30080/TCP    10m    app=web',
    'dns    ClusterIP   10.43.0.11   <none>        53/UDP,53/TCP   3h5m   <none>',
  ));
});

t.test('jobs: STATUS from conditions, COMPLETIONS including work queues, DURATION until now or completion', async (t) => {
  t.equal(printTable('Job', fx.jobs, plain), lines(
    'NAME    STATUS      COMPLETIONS   DURATION   AGE',
    'once    Complete    1/1           10s        5m',
    'queue   Running     0/1 of 3      2m         2m',
    'stuck   Failed      2/5           60m        60m',
    'later   Suspended   0/1                      30s',
  ));
});

t.test('cronjobs: SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE', async (t) => {
  t.equal(printTable('CronJob', fx.cronjobs, plain), lines(
    'NAME     SCHEDULE      TIMEZONE        SUSPEND   ACTIVE   LAST SCHEDULE   AGE',
    'backup   0 3 * * *     Europe/Berlin   False     1        9h              45d',
    'report   */5 * * * *   <none>          <unset>   0        <none>          20s',
  ));
  t.match(printTable('CronJob', fx.cronjobs, { ...plain, wide: true }), /CONTAINERS   IMAGES   SELECTOR\n.*b            restic   <none>\n/);
});

t.test('replicasets, daemonsets, configmaps, secrets and namespaces print their kubectl columns', async (t) => {
  t.equal(printTable('ReplicaSet', fx.replicasets, plain), lines(
    'NAME             DESIRED   CURRENT   READY   AGE',
    'web-5d8f7c6b4d   3         3         2       24h',
  ));
  t.equal(printTable('ReplicaSet', fx.replicasets, { ...plain, wide: true }).split('\n')[1], 'web-5d8f7c6b4d   3         3         2       24h   web          nginx:1.25   app=web,pod-template-hash=5d8f7c6b4d');
  t.equal(printTable('DaemonSet', fx.daemonsets, plain), lines(
    'NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR              AGE',
    'agent   4         4         3       4            3           kubernetes.io/arch=arm64   7d23h',
  ));
  t.equal(printTable('ConfigMap', fx.configmaps, plain), lines(
    'NAME       DATA   AGE',
    'settings   3      5s',
  ));
  t.equal(printTable('Secret', fx.secrets, plain), lines(
    'NAME    TYPE                DATA   AGE',
    'creds   Opaque              2      5s',
    'tls     kubernetes.io/tls   2      5s',
  ));
  t.equal(printTable('Namespace', fx.namespaces, plain), lines(
    'NAME      STATUS        AGE',
    'default   Active        45d',
    'prod      Terminating   2m',
  ));
  t.equal(printTable('Namespace', fx.namespaces, { ...plain, allNamespaces: true }).split('\n')[0], 'NAME      STATUS        AGE', 'cluster-scoped kinds get no NAMESPACE column');
});

t.test('nodes: STATUS Ready/NotReady/Unknown with SchedulingDisabled, ROLES from node-role labels, the address and architecture of every board', async (t) => {
  t.equal(printTable('Node', fx.nodes, plain), lines(
    'NAME   STATUS                        ROLES    AGE   VERSION         INTERNAL-IP    ARCH',
    'pi-1   Ready                         leader   45d   pifleet-0.1.0   192.168.1.10   arm64',
    'pi-2   NotReady,SchedulingDisabled   <none>   45d   pifleet-0.1.0   <none>         arm64',
    'pi-3   Unknown                       <none>   3m    pifleet-0.1.0   <none>         arm64',
  ));
  t.equal(printTable('Node', fx.nodes.slice(0, 1), { ...plain, wide: true }), lines(
    'NAME   STATUS   ROLES    AGE   VERSION         INTERNAL-IP    ARCH    EXTERNAL-IP   OS-IMAGE                         KERNEL-VERSION      CONTAINER-RUNTIME',
    'pi-1   Ready    leader   45d   pifleet-0.1.0   192.168.1.10   arm64   <none>        Debian GNU/Linux 12 (bookworm)   6.6.31+rpt-rpi-v8   docker://24.0.7',
  ));
});

t.test('a node whose desired-state store refuses writes shows StoreReadOnly in its STATUS', async (t) => {
  const n = structuredClone(fx.nodes[0]) as { status: { conditions: Array<{ type: string; status: string }> } };
  n.status.conditions.push({ type: 'StoreWritable', status: 'False' });
  t.match(printTable('Node', [n as never], plain), /pi-1\s+Ready,StoreReadOnly\s+leader/);
});

t.test('events are sorted by when they last happened, multi-line messages cut at the first line', async (t) => {
  t.equal(printTable('Event', fx.events, plain), lines(
    'LAST SEEN   TYPE      REASON              OBJECT           MESSAGE',
    '10m         Normal    ScalingReplicaSet   deployment/web   Scaled up replica set web-5d8f to 3',
    '2m          Normal    Scheduled           pod/web-1        Successfully assigned default/web-1 to pi-1',
    '30s         Warning   BackOff             pod/web-1        Back-off restarting failed container...',
  ));
  t.equal(printTable('Event', fx.events, { ...plain, allNamespaces: true }).split('\n')[1], 'prod        10m         Normal    ScalingReplicaSet   deployment/web   Scaled up replica set web-5d8f to 3');
  const wide = printTable('Event', fx.events, { ...plain, wide: true }).split('\n');
  t.equal(wide[0], 'LAST SEEN   TYPE      REASON              OBJECT           SUBOBJECT              SOURCE                  MESSAGE                                       FIRST SEEN   COUNT   NAME');
  t.equal(wide[3], '30s         Warning   BackOff             pod/web-1        spec.containers{web}   kubelet, pi-1           Back-off restarting failed container...       5m           4       web-1.17b');
});

t.test('several kinds at once prefix names with kind and group', async (t) => {
  t.equal(printTable('Deployment', fx.deployments.slice(0, 1), { ...plain, withKind: true }), lines(
    'NAME                  READY   UP-TO-DATE   AVAILABLE   AGE',
    'deployment.apps/web   3/3     3            3           2d3h',
  ));
  t.equal(printTable('Event', fx.events.slice(0, 1), { ...plain, withKind: true }).split('\n')[1], '2m          Normal   Scheduled   pod/web-1   Successfully assigned default/web-1 to pi-1', 'events show no NAME column unless wide');
});

t.test('-o name prints kind.group/name in kubectl\'s singular form', async (t) => {
  const all = [...fx.deployments, ...fx.pods, ...fx.services, ...fx.jobs.slice(0, 1), ...fx.cronjobs.slice(0, 1), ...fx.replicasets, ...fx.daemonsets,
    ...fx.configmaps, ...fx.secrets.slice(0, 1), ...fx.namespaces.slice(0, 1), ...fx.nodes.slice(0, 1), ...fx.events.slice(0, 1)];
  t.same(all.map(objectName), [
    'deployment.apps/web', 'deployment.apps/api', 'pod/web-5d8f7c6b4d-abcde', 'pod/job-once-x7k2p', 'service/web', 'service/dns', 'job.batch/once',
    'cronjob.batch/backup', 'replicaset.apps/web-5d8f7c6b4d', 'daemonset.apps/agent', 'configmap/settings', 'secret/creds', 'namespace/default',
    'node/pi-1', 'event/web-1.17a',
  ]);
});

t.test('-o json is Go\'s indented JSON with sorted keys; a list is a v1 List', async (t) => {
  const obj = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x' }, data: { cmd: 'a && b <c>' } };
  t.equal(toJson(obj), [
    '{',
    '    "apiVersion": "v1",',
    '    "data": {',
    '        "cmd": "a \\u0026\\u0026 b \\u003cc\\u003e"',
    '    },',
    '    "kind": "ConfigMap",',
    '    "metadata": {',
    '        "name": "x"',
    '    }',
    '}',
  ].join('\n'));
  const list = JSON.parse(toJson(asList(fx.configmaps))) as Record<string, unknown>;
  t.same(Object.keys(list), ['apiVersion', 'items', 'kind', 'metadata']);
  t.same(list.metadata, { resourceVersion: '' });
  t.equal((list.items as unknown[]).length, 1);
});

t.test('-o yaml has sorted keys and unindented sequences like kubectl', async (t) => {
  const text = toYamlText(asList(fx.configmaps));
  t.ok(text.startsWith('apiVersion: v1\nitems:\n- apiVersion: v1\n  binaryData:\n'), text);
  t.same(parseYaml(text), JSON.parse(JSON.stringify(asList(fx.configmaps))));
  t.notMatch(toYamlText({ a: 'x'.repeat(200) }), /\n {2}x/, 'long strings are not folded');
  t.equal(toYamlText({ ts: '2026-06-01T12:00:00Z', on: 'yes', n: '1' }), '"n": "1"\n"on": "yes"\nts: "2026-06-01T12:00:00Z"\n', 'YAML 1.1 look-alikes (even the key n) are quoted as go-yaml quotes them');
});

t.test('watch rows keep the widths of the rows printed before them', async (t) => {
  const p = new WatchPrinter('Pod', { allNamespaces: false, showLabels: false, labelColumns: [], noHeaders: false, withKind: false });
  t.equal(p.list(fx.pods.slice(0, 1), fx.now), lines(
    'NAME                   READY   STATUS    RESTARTS   AGE',
    'web-5d8f7c6b4d-abcde   1/1     Running   0          5m',
  ));
  t.equal(p.print(fx.pods[1]!, fx.now), lines('job-once-x7k2p         0/1     Completed   0          2m30s'), 'narrow name padded to the header; wider status widens its column');
  t.equal(p.print(fx.pods[0]!, fx.now), lines('web-5d8f7c6b4d-abcde   1/1     Running     0          5m'), 'the widened column stays wide');
  const noHeader = new WatchPrinter('Pod', { allNamespaces: false, showLabels: false, labelColumns: [], noHeaders: true, withKind: false, output: 'name' });
  t.equal(noHeader.print(fx.pods[0]!, fx.now), 'pod/web-5d8f7c6b4d-abcde\n');
  const yaml = new WatchPrinter('Pod', { allNamespaces: false, showLabels: false, labelColumns: [], noHeaders: false, withKind: false, output: 'yaml' });
  t.notMatch(yaml.print(fx.pods[0]!, fx.now), /^---/);
  t.match(yaml.print(fx.pods[1]!, fx.now), /^---\napiVersion: v1\n/, 'later yaml documents are separated');
});

t.test('an empty list prints nothing', async (t) => {
  t.equal(printTable('Pod', [], plain), '');
});

t.test('terminal escape sequences in object data are shown, not sent to the terminal', async (t) => {
  const ev = { ...fx.events[0]!, message: 'evil \x1b[2Jcleared' } as typeof fx.events[number];
  const out = printTable('Event', [ev], { ...plain, showLabels: true });
  t.notOk(out.includes('\x1b'));
  t.match(out, /evil \^\[\[2Jcleared/);
  const cm = { ...fx.configmaps[0]!, metadata: { ...fx.configmaps[0]!.metadata, labels: { a: 'x\x1by' } } };
  t.match(printTable('ConfigMap', [cm], { ...plain, labelColumns: ['a'], showLabels: true }), /x\^\[y   a=x\^\[y\n$/);
});
