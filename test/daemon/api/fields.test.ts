import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateFieldTable } from './fields-generator.js';
import { validateObject } from '../../../daemon/src/api/validate.js';
import { loadManifests } from '../../../daemon/src/api/load.js';

type Any = any;

const deploy = (): Any => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
  spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] } } },
});

t.test('the committed field table is what the generator makes from kubernetes-types', async (t) => {
  const committed = readFileSync(fileURLToPath(new URL('../../../daemon/src/api/fields.generated.ts', import.meta.url)), 'utf8');
  t.equal(committed, generateFieldTable(), 'regenerate with: npx tsx test/daemon/api/fields-generator.ts --print > daemon/src/api/fields.generated.ts');
});

t.test('rejects fields Kubernetes does not know and suggests the one a typo meant', async (t) => {
  const d = deploy();
  d.spec.template.spec.contianers = d.spec.template.spec.containers;
  d.spec.template.spec.containers[0].imagePullpolicy = 'Always';
  d.spec.replica = 3;
  d.spec.template.spec.containers[0].resources = { limits: { cpu: '1' }, limit: {} };
  d.metadata.labels = { 'any-key': 'x' };
  d.extra = { whatever: 1 };
  const errs = validateObject(d).sort((a, b) => a.path.localeCompare(b.path));
  t.match(errs, [
    { path: 'extra', reason: 'Unknown field: Deployment has no field "extra"' },
    { path: 'spec.replica', reason: 'Unknown field: DeploymentSpec has no field "replica"; did you mean "replicas"?' },
    { path: 'spec.template.spec.containers[0].imagePullpolicy', reason: 'did you mean "imagePullPolicy"?' },
    { path: 'spec.template.spec.containers[0].resources.limit', reason: 'did you mean "limits"?' },
    { path: 'spec.template.spec.contianers', reason: 'Unknown field: PodSpec has no field "contianers"; did you mean "containers"?' },
  ]);
  t.equal(errs.length, 5, errs.map((e) => `${e.path}: ${e.reason}`).join('\n'));
});

t.test('accepts every known field, free-form maps and a system-written status', async (t) => {
  const d = deploy();
  d.metadata = { ...d.metadata, annotations: { 'x/y': 'z' }, uid: 'u', resourceVersion: '3', generation: 2, creationTimestamp: '2026-01-01T00:00:00Z', managedFields: [{ manager: 'm', fieldsV1: { 'f:spec': {} } }] };
  d.spec.template.spec.nodeSelector = { 'kubernetes.io/arch': 'arm64' };
  d.spec.template.spec.containers[0].securityContext = { privileged: false, capabilities: { add: ['NET_ADMIN'] } };
  d.status = { replicas: 1, pifleetSomething: true };
  t.same(validateObject(d), []);
});

t.test('places unknown fields at their line in the manifest', async (t) => {
  const text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: "x:1"\n    comand: [sh]\n';
  t.same(loadManifests(text, 'p.yaml').errors.map((e) => e.format()), ['p.yaml:9:5 spec.containers[0].comand: Unknown field: Container has no field "comand"; did you mean "command"?']);
});
