/** Objects for the printer tests, with ages relative to a fixed `now`. */
import type { KObject } from '../../../../daemon/src/api/types.js';

export const now = Date.parse('2026-06-01T12:00:00Z');
export const ago = (s: number): string => new Date(now - s * 1000).toISOString();
const MIN = 60;
const HOUR = 3600;
const DAY = 86400;

const meta = (name: string, ageSeconds: number, extra: Record<string, unknown> = {}): KObject['metadata'] =>
  ({ name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: ago(ageSeconds), ...extra }) as KObject['metadata'];

export const deployments: KObject[] = [
  {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta('web', 2 * DAY + 3 * HOUR, { labels: { app: 'web', tier: 'fe' }, annotations: { 'deployment.kubernetes.io/revision': '2' } }),
    spec: {
      replicas: 3, selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.25' }, { name: 'sidecar', image: 'busybox:1.36' }] } },
    },
    status: { replicas: 3, readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3, observedGeneration: 1 },
  },
  {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta('api', 45, { namespace: 'prod', labels: { app: 'api' } }),
    spec: {
      replicas: 2, selector: { matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['fe', 'be'] }] },
      template: { metadata: { labels: { app: 'api', tier: 'be' } }, spec: { containers: [{ name: 'api', image: 'registry.local/api:v2' }] } },
    },
    status: { replicas: 2, readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1 },
  },
];

export const pods: KObject[] = [
  {
    apiVersion: 'v1', kind: 'Pod', metadata: meta('web-5d8f7c6b4d-abcde', 5 * MIN, { labels: { app: 'web' } }),
    spec: { nodeName: 'pi-2', containers: [{ name: 'web', image: 'nginx:1.25' }] },
    status: { phase: 'Running', podIP: '10.42.0.7', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'web', image: 'nginx:1.25', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: ago(290) } } }] },
  },
  {
    apiVersion: 'v1', kind: 'Pod', metadata: meta('job-once-x7k2p', 150, { namespace: 'batch' }),
    spec: { nodeName: 'pi-1', containers: [{ name: 'main', image: 'busybox' }] },
    status: { phase: 'Succeeded', containerStatuses: [{ name: 'main', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] },
  },
];

export const services: KObject[] = [
  {
    apiVersion: 'v1', kind: 'Service', metadata: meta('web', 10 * MIN),
    spec: { type: 'NodePort', clusterIP: '10.43.0.10', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }] },
  },
  {
    apiVersion: 'v1', kind: 'Service', metadata: meta('dns', 3 * HOUR + 5 * MIN),
    spec: { type: 'ClusterIP', clusterIP: '10.43.0.11', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] },
  },
];

export const jobs: KObject[] = [
  {
    apiVersion: 'batch/v1', kind: 'Job', metadata: meta('once', 5 * MIN),
    spec: { completions: 1, template: { spec: { containers: [{ name: 'main', image: 'busybox' }] } } },
    status: { succeeded: 1, startTime: ago(5 * MIN), completionTime: ago(4 * MIN + 50), conditions: [{ type: 'Complete', status: 'True' }] },
  },
  {
    apiVersion: 'batch/v1', kind: 'Job', metadata: meta('queue', 2 * MIN),
    spec: { parallelism: 3, template: { spec: { containers: [{ name: 'w', image: 'worker' }] } } },
    status: { succeeded: 0, active: 3, startTime: ago(2 * MIN) },
  },
  {
    apiVersion: 'batch/v1', kind: 'Job', metadata: meta('stuck', HOUR),
    spec: { completions: 5, template: { spec: { containers: [{ name: 'w', image: 'worker' }] } } },
    status: { succeeded: 2, failed: 7, startTime: ago(HOUR), conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] },
  },
  {
    apiVersion: 'batch/v1', kind: 'Job', metadata: meta('later', 30),
    spec: { completions: 1, suspend: true, template: { spec: { containers: [{ name: 'w', image: 'worker' }] } } },
    status: { conditions: [{ type: 'Suspended', status: 'True' }] },
  },
];

export const cronjobs: KObject[] = [
  {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: meta('backup', 45 * DAY),
    spec: { schedule: '0 3 * * *', timeZone: 'Europe/Berlin', suspend: false, jobTemplate: { spec: { template: { spec: { containers: [{ name: 'b', image: 'restic' }] } } } } },
    status: { active: [{ name: 'backup-29100000' }], lastScheduleTime: ago(9 * HOUR) },
  },
  {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: meta('report', 20),
    spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'r', image: 'report' }] } } } } },
  },
];

export const replicasets: KObject[] = [
  {
    apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: meta('web-5d8f7c6b4d', DAY),
    spec: { replicas: 3, selector: { matchLabels: { app: 'web', 'pod-template-hash': '5d8f7c6b4d' } }, template: { spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] } } },
    status: { replicas: 3, readyReplicas: 2 },
  },
];

export const daemonsets: KObject[] = [
  {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta('agent', 7 * DAY + 23 * HOUR),
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { spec: { nodeSelector: { 'kubernetes.io/arch': 'arm64' }, containers: [{ name: 'agent', image: 'agent:1' }] } } },
    status: { desiredNumberScheduled: 4, currentNumberScheduled: 4, numberReady: 3, updatedNumberScheduled: 4, numberAvailable: 3, numberMisscheduled: 0 },
  },
];

export const configmaps: KObject[] = [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('settings', 5), data: { a: '1', b: '2' }, binaryData: { c: 'AAE=' } },
];

export const secrets: KObject[] = [
  { apiVersion: 'v1', kind: 'Secret', metadata: meta('creds', 5), data: { user: 'YWRtaW4=', pass: 'czNjcjN0' } },
  { apiVersion: 'v1', kind: 'Secret', metadata: meta('tls', 5), type: 'kubernetes.io/tls', data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5' } },
];

export const namespaces: KObject[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', creationTimestamp: ago(45 * DAY) }, status: { phase: 'Active' } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', creationTimestamp: ago(2 * MIN), deletionTimestamp: ago(1) } },
];

const nodeInfo = { kubeletVersion: 'pifleet-0.1.0', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.6.31+rpt-rpi-v8', containerRuntimeVersion: 'docker://24.0.7', machineID: 'm', systemUUID: 's', bootID: 'b', operatingSystem: 'linux', architecture: 'arm64', kubeProxyVersion: '' };

export const nodes: KObject[] = [
  {
    apiVersion: 'v1', kind: 'Node', metadata: { name: 'pi-1', creationTimestamp: ago(45 * DAY), labels: { 'node-role.kubernetes.io/leader': '', 'kubernetes.io/arch': 'arm64' } },
    spec: {},
    status: {
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'pifleet agent is posting ready status', lastHeartbeatTime: ago(5), lastTransitionTime: ago(45 * DAY) }],
      addresses: [{ type: 'InternalIP', address: '192.168.1.10' }, { type: 'Hostname', address: 'pi-1' }],
      capacity: { cpu: '4', memory: '8Gi', pods: '110' }, allocatable: { cpu: '4', memory: '7Gi', pods: '110' },
      nodeInfo,
    },
  },
  {
    apiVersion: 'v1', kind: 'Node', metadata: { name: 'pi-2', creationTimestamp: ago(45 * DAY) },
    spec: { unschedulable: true },
    status: { conditions: [{ type: 'Ready', status: 'False' }], nodeInfo },
  },
  { apiVersion: 'v1', kind: 'Node', metadata: { name: 'pi-3', creationTimestamp: ago(3 * MIN) }, status: { nodeInfo } },
];

export const events: KObject[] = [
  {
    apiVersion: 'v1', kind: 'Event', metadata: meta('web-1.17a', 2 * MIN),
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default' }, type: 'Normal', reason: 'Scheduled',
    message: 'Successfully assigned default/web-1 to pi-1', source: { component: 'default-scheduler' }, firstTimestamp: ago(2 * MIN), lastTimestamp: ago(2 * MIN), count: 1,
  },
  {
    apiVersion: 'v1', kind: 'Event', metadata: meta('web-1.17b', 5 * MIN),
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', fieldPath: 'spec.containers{web}' }, type: 'Warning', reason: 'BackOff',
    message: 'Back-off restarting failed container\nsecond line', source: { component: 'kubelet', host: 'pi-1' }, firstTimestamp: ago(5 * MIN), lastTimestamp: ago(30), count: 4,
  },
  {
    apiVersion: 'v1', kind: 'Event', metadata: meta('web.17c', 10 * MIN, { namespace: 'prod' }),
    involvedObject: { kind: 'Deployment', name: 'web', namespace: 'prod' }, type: 'Normal', reason: 'ScalingReplicaSet',
    message: 'Scaled up replica set web-5d8f to 3 ', source: { component: 'deployment-controller' }, firstTimestamp: ago(10 * MIN), lastTimestamp: ago(10 * MIN), count: 1,
  },
];
