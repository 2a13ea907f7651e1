import t from 'tap';
import { describeEvents, describeObject, describeProbe, relatedKinds, type DescribeContext } from '../../../../daemon/src/cli/print/describe.js';
import type { Event, KObject } from '../../../../daemon/src/api/types.js';
import * as fx from './fixtures.js';

const ctx = (related: Record<string, KObject[]> = {}, events: KObject[] = []): DescribeContext => ({ now: fx.now, events: events as Event[], related });
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

t.test('a configmap page lists each key with its value, binary data by size, then events', async (t) => {
  t.equal(describeObject(fx.configmaps[0]!, ctx()), lines(
    'Name:         settings',
    'Namespace:    default',
    'Labels:       <none>',
    'Annotations:  <none>',
    '',
    'Data',
    '====',
    'a:',
    '----',
    '1',
    'b:',
    '----',
    '2',
    '',
    'BinaryData',
    '====',
    'c: 2 bytes',
    '',
    'Events:  <none>',
  ));
});

t.test('a secret page shows the type and data sizes, never the values', async (t) => {
  const secret = { ...fx.secrets[0]!, stringData: { token: 'héllo' } } as KObject;
  const text = describeObject(secret, ctx());
  t.equal(text, lines(
    'Name:         creds',
    'Namespace:    default',
    'Labels:       <none>',
    'Annotations:  <none>',
    '',
    'Type:  Opaque',
    '',
    'Data',
    '====',
    'pass:   6 bytes',
    'token:  6 bytes',
    'user:   5 bytes',
  ));
  for (const secretValue of ['admin', 's3cr3t', 'YWRtaW4=', 'czNjcjN0', 'héllo']) t.notOk(text.includes(secretValue), `no ${secretValue}`);
});

t.test('a pod page has kubectl\'s sections, container state and an events table', async (t) => {
  const pod = {
    ...fx.pods[0]!,
    metadata: { ...fx.pods[0]!.metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f7c6b4d', uid: 'u', controller: true }], annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', note: 'hi' } },
    spec: {
      nodeName: 'pi-2',
      containers: [{
        name: 'web', image: 'nginx:1.25', ports: [{ containerPort: 80 }, { containerPort: 443, hostPort: 8443 }],
        env: [{ name: 'MODE', value: 'prod' }, { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'PW', valueFrom: { secretKeyRef: { name: 'creds', key: 'pass' } } }],
        resources: { limits: { cpu: '500m', memory: '128Mi' } },
        readinessProbe: { httpGet: { path: '/healthz', port: 8080 } },
        volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'cfg', mountPath: '/etc/cfg', readOnly: true }],
      }],
      volumes: [{ name: 'data', emptyDir: {} }, { name: 'cfg', configMap: { name: 'settings' } }],
    },
    status: { ...(fx.pods[0]!.status as object), hostIP: '192.168.1.11', startTime: fx.ago(300) },
  } as KObject;
  const text = describeObject(pod, ctx({}, fx.events.slice(0, 2)));
  t.match(text, /^Name:\s+web-5d8f7c6b4d-abcde\nNamespace:\s+default\nNode:\s+pi-2\/192\.168\.1\.11\nStart Time:\s+Mon, 01 Jun 2026 11:55:00 \+0000\n/);
  t.match(text, /\nAnnotations:\s+note: hi\n/, 'last-applied-configuration is hidden');
  t.match(text, /\nStatus:\s+Running\n/);
  t.match(text, /\nControlled By:\s+ReplicaSet\/web-5d8f7c6b4d\n/);
  t.match(text, /\nContainers:\n {2}web:\n/);
  t.match(text, /\n {4}Ports:\s+80\/TCP, 443\/TCP\n {4}Host Ports:\s+0\/TCP, 8443\/TCP\n/);
  t.match(text, /\n {4}State:\s+Running\n {6}Started:\s+Mon, 01 Jun 2026 11:55:10 \+0000\n {4}Ready:\s+True\n {4}Restart Count:\s+0\n/);
  t.match(text, /\n {4}Limits:\n {6}cpu:\s+500m\n {6}memory:\s+128Mi\n/);
  t.match(text, /\n {4}Readiness:\s+http-get http:\/\/:8080\/healthz delay=0s timeout=1s period=10s #success=1 #failure=3\n/);
  t.match(text, /\n {6}MODE:\s+prod\n {6}POD:\s+web-5d8f7c6b4d-abcde \(v1:metadata\.name\)\n {6}PW:\s+<set to the key 'pass' in secret 'creds'>\s+Optional: false\n/);
  t.match(text, /\n {4}Mounts:\n {6}\/data from data \(rw\)\n {6}\/etc\/cfg from cfg \(ro\)\n/, 'mounts sorted by path');
  t.match(text, /\nConditions:\n {2}Type\s+Status\n {2}Ready\s+True \n/);
  t.match(text, /\nVolumes:\n {2}data:\n {4}Type:\s+EmptyDir \(a temporary directory that shares a pod's lifetime\)\n {4}Medium:\s+\n {4}SizeLimit:\s+<unset>\n {2}cfg:\n {4}Type:\s+ConfigMap/);
  t.match(text, /\nQoS Class:\s+Guaranteed\n/, 'limits on cpu and memory only: requests default to them');
  t.match(text, /\nEvents:\n {2}Type {5}Reason {5}Age {15}From {15}Message\n {2}---- {5}------ {5}---- {14}---- {15}-------\n {2}Normal {3}Scheduled {2}2m {16}default-scheduler {2}Successfully assigned default\/web-1 to pi-1\n {2}Warning {2}BackOff {4}30s \(x4 over 5m\) {2}kubelet {12}Back-off restarting failed container\nsecond line\n$/);
});

t.test('a pod being deleted says how long termination lasts and its grace period', async (t) => {
  const pod = { ...fx.pods[0]!, metadata: { ...fx.pods[0]!.metadata, deletionTimestamp: fx.ago(-20), deletionGracePeriodSeconds: 30 } } as KObject;
  const text = describeObject(pod, ctx());
  t.match(text, /\nStatus:\s+Terminating \(lasts <invalid>\)\nTermination Grace Period:\s+30s\n/, 'kubectl measures the future deadline as an age');
});

t.test('a deployment page shows replicas, strategy, template, conditions and its old and new replica sets', async (t) => {
  const d = { ...fx.deployments[0]!, status: { ...(fx.deployments[0]!.status as object), conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] } } as KObject;
  const owner = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true }];
  const rs = (name: string, rev: string, replicas: number): KObject => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name, namespace: 'default', ownerReferences: owner, annotations: { 'deployment.kubernetes.io/revision': rev } }, spec: { replicas, selector: {} }, status: { replicas } });
  const text = describeObject(d, ctx({ ReplicaSet: [rs('web-old', '1', 0), rs('web-new', '2', 3), { ...rs('other', '2', 1), metadata: { name: 'other', annotations: {} } }] }, fx.events.slice(2)));
  t.match(text, /\nReplicas:\s+3 desired \| 3 updated \| 3 total \| 3 available \| 0 unavailable\nStrategyType:\s+RollingUpdate\nMinReadySeconds:\s+0\nRollingUpdateStrategy:\s+25% max unavailable, 25% max surge\nPod Template:\n/);
  t.match(text, /\nConditions:\n {2}Type\s+Status\s+Reason\n {2}----\s+------\s+------\n {2}Available \s+True\s+MinimumReplicasAvailable\n {2}Progressing \s+True\s+NewReplicaSetAvailable\n/);
  t.match(text, /\nOldReplicaSets:\s+web-old \(0\/0 replicas created\)\nNewReplicaSet:\s+web-new \(3\/3 replicas created\)\n/);
  t.match(text, /\nEvents:\n.*\n.*\n {2}Normal {2}ScalingReplicaSet {2}10m {3}deployment-controller {2}Scaled up replica set web-5d8f to 3\n$/);
  t.match(text, /\n {3}web:\n {4}Image:\s+nginx:1\.25\n/, 'template containers are indented one more space');
});

t.test('replica set, daemon set and job pages count their pods by phase', async (t) => {
  const owned = (uid: string, phase: string, i: number): KObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}`, namespace: 'default', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'X', name: 'x', uid, controller: true }] }, spec: { containers: [] }, status: { phase } });
  const pods = [owned('uid-web-5d8f7c6b4d', 'Running', 1), owned('uid-web-5d8f7c6b4d', 'Running', 2), owned('uid-web-5d8f7c6b4d', 'Pending', 3), owned('uid-agent', 'Failed', 4), owned('someone-else', 'Running', 5)];
  const rs = describeObject(fx.replicasets[0]!, ctx({ Pod: pods }));
  t.match(rs, /\nSelector:\s+app=web,pod-template-hash=5d8f7c6b4d\n/);
  t.match(rs, /\nReplicas:\s+3 current \/ 3 desired\nPods Status:\s+2 Running \/ 1 Waiting \/ 0 Succeeded \/ 0 Failed\n/);
  const ds = describeObject(fx.daemonsets[0]!, ctx({ Pod: pods }));
  t.match(ds, /^Name:\s+agent\nSelector:\s+app=agent\nNode-Selector:\s+kubernetes\.io\/arch=arm64\n/);
  t.match(ds, /\nDesired Number of Nodes Scheduled: 4\nCurrent Number of Nodes Scheduled: 4\nNumber of Nodes Scheduled with Up-to-date Pods: 4\nNumber of Nodes Scheduled with Available Pods: 3\nNumber of Nodes Misscheduled: 0\nPods Status:\s+0 Running \/ 0 Waiting \/ 0 Succeeded \/ 1 Failed\n/);
  const job = describeObject(fx.jobs[0]!, ctx());
  t.match(job, /\nCompletions:\s+1\nStart Time:\s+Mon, 01 Jun 2026 11:55:00 \+0000\nCompleted At:\s+Mon, 01 Jun 2026 11:55:10 \+0000\nDuration:\s+10s\nPods Statuses:\s+0 Active \/ 1 Succeeded \/ 0 Failed\nPod Template:\n/);
  t.match(job, /\nEvents:\s+<none>\n$/);
});

t.test('a cronjob page shows schedule, policy, limits, last schedule and active jobs', async (t) => {
  const text = describeObject(fx.cronjobs[0]!, ctx());
  t.match(text, /\nSchedule:\s+0 3 \* \* \*\nConcurrency Policy:\s+Allow\nSuspend:\s+False\nSuccessful Job History Limit:\s+<unset>\nFailed Job History Limit:\s+<unset>\nStarting Deadline Seconds:\s+<unset>\nSelector:\s+<unset>\nParallelism:\s+<unset>\nCompletions:\s+<unset>\nPod Template:\n/);
  t.match(text, /\nLast Schedule Time:\s+Mon, 01 Jun 2026 03:00:00 \+0000\nActive Jobs:\s+backup-29100000\nEvents:\s+<none>\n$/);
});

t.test('a service page shows ports, node ports and the endpoints of ready selected pods', async (t) => {
  const text = describeObject(fx.services[0]!, ctx({ Pod: fx.pods }));
  t.equal(text, lines(
    'Name:              web',
    'Namespace:         default',
    'Labels:            <none>',
    'Annotations:       <none>',
    'Selector:          app=web',
    'Type:              NodePort',
    'IP Families:       <none>',
    'IP:                10.43.0.10',
    'IPs:               <none>',
    'Port:              <unset>  80/TCP',
    'TargetPort:        8080/TCP',
    'NodePort:          <unset>  30080/TCP',
    'Endpoints:         10.42.0.7:8080',
    'Session Affinity:  None',
    'Events:            <none>',
  ));
  t.match(describeObject(fx.services[0]!, ctx({ Pod: [] })), /\nEndpoints:\s+<none>\n/);
});

t.test('a node page shows conditions, addresses, capacity, system info and the pods on it', async (t) => {
  const pod = { ...fx.pods[0]!, spec: { nodeName: 'pi-1', containers: [{ name: 'a', resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1', memory: '128Mi' } } }] } } as KObject;
  const text = describeObject(fx.nodes[0]!, ctx({ Pod: [pod, fx.pods[1]!] }));
  t.match(text, /^Name:\s+pi-1\nRoles:\s+leader\nLabels:\s+kubernetes\.io\/arch=arm64\n\s+node-role\.kubernetes\.io\/leader=\n/);
  t.match(text, /\nConditions:\n {2}Type\s+Status\s+LastHeartbeatTime\s+LastTransitionTime\s+Reason\s+Message\n/);
  t.match(text, /\n {2}Ready {3}True {4}Mon, 01 Jun 2026 11:59:55 \+0000 {3}Fri, 17 Apr 2026 12:00:00 \+0000 {3}KubeletReady {3}pifleet agent is posting ready status\n/);
  t.match(text, /\nAddresses:\n {2}InternalIP:\s+192\.168\.1\.10\n {2}Hostname:\s+pi-1\n/);
  t.match(text, /\nAllocatable:\n {2}cpu:\s+4\n {2}memory:\s+7Gi\n {2}pods:\s+110\n/);
  t.match(text, /\nNon-terminated Pods:\s+\(1 in total\)\n/, 'finished pods and pods of other nodes are not counted');
  t.match(text, /\n {2}default\s+web-5d8f7c6b4d-abcde\s+250m \(6%\)\s+1 \(25%\)\s+64Mi \(0%\)\s+128Mi \(1%\)\s+5m\n/);
  t.match(text, /\n {2}cpu\s+250m \(6%\)\s+1 \(25%\)\n {2}memory\s+64Mi \(0%\)\s+128Mi \(1%\)\n/);
});

t.test('a namespace page shows its status and kubectl\'s quota lines', async (t) => {
  t.equal(describeObject(fx.namespaces[1]!, ctx()), lines(
    'Name:         prod',
    'Labels:       <none>',
    'Annotations:  <none>',
    'Status:       Terminating',
    '',
    'No resource quota.',
    '',
    'No LimitRange resource.',
  ));
});

t.test('kinds without a describer get a generic page with their fields', async (t) => {
  const text = describeObject(fx.events[0]!, ctx());
  t.match(text, /^Name:\s+web-1\.17a\nNamespace:\s+default\n/);
  t.match(text, /\nKind:\s+Event\n/);
  t.match(text, /\nreason: Scheduled\n/);
});

t.test('the events table is sorted oldest first and counts repeats', async (t) => {
  t.equal(describeEvents([], fx.now), 'Events:  <none>\n');
  t.equal(describeEvents(fx.events as Event[], fx.now), lines(
    'Events:',
    '  Type     Reason             Age               From                   Message',
    '  ----     ------             ----              ----                   -------',
    '  Normal   ScalingReplicaSet  10m               deployment-controller  Scaled up replica set web-5d8f to 3',
    '  Normal   Scheduled          2m                default-scheduler      Successfully assigned default/web-1 to pi-1',
    '  Warning  BackOff            30s (x4 over 5m)  kubelet                Back-off restarting failed container',
    'second line',
  ));
});

t.test('probes are described with the API defaults for unset timings', async (t) => {
  t.equal(describeProbe({ exec: { command: ['cat', '/tmp/ok'] }, periodSeconds: 5 }), 'exec [cat /tmp/ok] delay=0s timeout=1s period=5s #success=1 #failure=3');
  t.equal(describeProbe({ tcpSocket: { port: 5432 }, initialDelaySeconds: 3, failureThreshold: 6 }), 'tcp-socket :5432 delay=3s timeout=1s period=10s #success=1 #failure=6');
  t.equal(describeProbe({ httpGet: { port: 'http', scheme: 'HTTPS' } }), 'http-get https://:http delay=0s timeout=1s period=10s #success=1 #failure=3');
});

t.test('describe asks for the related kinds kubectl shows', async (t) => {
  t.same(relatedKinds('Deployment'), ['ReplicaSet']);
  t.same(relatedKinds('Node'), ['Pod']);
  t.same(relatedKinds('Service'), ['Pod']);
  t.same(relatedKinds('ConfigMap'), []);
});

t.test('terminal escapes and carriage returns in describe output are made visible', async (t) => {
  const cm = { ...fx.configmaps[0]!, metadata: { ...fx.configmaps[0]!.metadata, annotations: { note: 'a\x1b[31mred\rb' } } } as KObject;
  const text = describeObject(cm, ctx());
  t.notOk(/[\x1b\r]/.test(text));
  t.match(text, /\nAnnotations:\s+note: a\^\[\[31mred\\rb\n/);
});
