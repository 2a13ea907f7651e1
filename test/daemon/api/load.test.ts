import t from 'tap';
import { loadManifests } from '../../../daemon/src/api/load.js';
import { ManifestError } from '../../../daemon/src/api/errors.js';

// Line numbers matter below: keep this text as it is.
const WEB = `# a web app
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        ports:
        - containerPort: 70000
          name: http
---
---

---
apiVersion: v1
kind: ConfigMap
metadata:
  name: Bad_Name
data:
  ok.key: "1"
  "bad key": "2"
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: http
`;

t.test('reports each problem at the line:col of its field across documents', async (t) => {
  const { objects, errors } = loadManifests(WEB, 'web.yaml');
  t.same(errors.map((e) => e.format()), [
    'web.yaml:16:9 spec.template.spec.containers[0].image: Required value',
    'web.yaml:18:11 spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    `web.yaml:27:3 metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    `web.yaml:30:3 data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
  ]);
  t.equal(objects.length, 1, 'the valid Service comes back, empty documents are skipped');
  t.equal(objects[0]?.kind, 'Service');
  const e = errors[0] as ManifestError;
  t.ok(e instanceof ManifestError);
  t.match(e, { file: 'web.yaml', line: 16, col: 9, path: 'spec.template.spec.containers[0].image', reason: 'Required value' });
});

t.test('points at the parent when a required field is missing and at the root for kind problems', async (t) => {
  const text = 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    spec:\n      containers:\n      - {name: c, image: "x:1"}\n';
  t.same(loadManifests(text, 'j.yaml').errors.map((e) => e.format()), ['j.yaml:7:5 spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']);
  const noKind = loadManifests('\n\napiVersion: v1\nmetadata: {name: x}\n', 'k.yaml');
  t.match(noKind.errors.map((e) => e.format()), [/^k\.yaml:3:1 kind: Required value: the object has no kind; pifleet serves v1 Namespace/]);
  const ingress = loadManifests('apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\n', 'i.yaml');
  t.match(ingress.errors[0]?.format(), /^i\.yaml:2:1 kind: Invalid value: "Ingress": pifleet does not serve this kind/);
  const mismatch = loadManifests('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: webb}\n    spec:\n      containers: [{name: web, image: "x:1"}]\n', 'm.yaml');
  t.match(mismatch.errors.map((e) => e.format()), [/^m\.yaml:9:7 spec\.template\.metadata\.labels: Invalid value: \{"app":"webb"\}: `selector` does not match template `labels`$/]);
  const label = loadManifests('apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    ok: a\n    "bad/key/x": b\nspec:\n  containers: [{name: c, image: "x:1"}]\n', 'l.yaml');
  t.match(label.errors.map((e) => e.format()), [/^l\.yaml:7:5 metadata\.labels: Invalid value: "bad\/key\/x"/]);
});

t.test('turns YAML syntax errors into positioned errors and keeps the other documents', async (t) => {
  const text = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkey: [1, 2\nother: x\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n  name: c\n';
  const { objects, errors } = loadManifests(text, 'bad.yaml');
  t.equal(objects.length, 1);
  t.ok(errors.length >= 2, errors.map((e) => e.format()).join('\n'));
  for (const e of errors) t.match(e.format(), /^bad\.yaml:\d+:\d+ invalid YAML: /);
  t.ok(errors.some((e) => e.line >= 5 && e.line <= 7), 'the flow sequence error is in the second document');
  t.ok(errors.some((e) => /unique/i.test(e.reason) && e.line === 12), 'duplicate keys are errors, at the duplicate');
});

t.test('accepts kind List with items and places item errors inside the list', async (t) => {
  const text = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: B}
`;
  const { objects, errors } = loadManifests(text, 'list.yaml');
  t.same(objects.map((o) => o.metadata.name), ['a']);
  t.match(errors.map((e) => e.format()), [/^list\.yaml:9:14 metadata\.name: Invalid value: "B"/]);
  t.match(loadManifests('apiVersion: v1\nkind: List\n', 'l.yaml').errors[0]?.format(), /^l\.yaml:1:1 items: Required value/);
});

t.test('reads YAML as Kubernetes does: octal modes, 1.1 booleans, dates as strings', async (t) => {
  const text = `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    when: 2026-01-02
spec:
  volumes:
  - name: s
    secret: {secretName: s, defaultMode: 0644}
  containers:
  - name: c
    image: "x:1"
    stdin: yes
    volumeMounts: [{name: s, mountPath: /s}]
`;
  const { objects, errors } = loadManifests(text, 'p.yaml');
  t.same(errors, []);
  const p = objects[0] as never as { metadata: { annotations: Record<string, unknown> }; spec: { volumes: Array<{ secret: { defaultMode: number } }>; containers: Array<{ stdin: unknown }> } };
  t.equal(p.spec.volumes[0]?.secret.defaultMode, 420);
  t.equal(p.spec.containers[0]?.stdin, true);
  t.equal(p.metadata.annotations.when, '2026-01-02');
});

t.test('reads JSON, skips empty files and comment-only documents', async (t) => {
  const json = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'from-json' } }, null, 2);
  t.same(loadManifests(json, 'ns.json').objects.map((o) => o.metadata.name), ['from-json']);
  t.same(loadManifests('', 'empty.yaml'), { objects: [], errors: [] });
  t.same(loadManifests('# nothing\n---\n# still nothing\n', 'c.yaml'), { objects: [], errors: [] });
  const bad = loadManifests('{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "UPPER"}}', 'x.json');
  t.match(bad.errors[0]?.format(), /^x\.json:1:56 metadata\.name: Invalid value: "UPPER"/);
});

t.test('never throws: scalars, lists and alias bombs become errors', async (t) => {
  const bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
  for (const text of ['42', '- a\n- b', 'just text', bomb, '\u0000\u0001', ': :', 'kind: [']) {
    let r: ReturnType<typeof loadManifests> | undefined;
    t.doesNotThrow(() => { r = loadManifests(text, 'f.yaml'); }, JSON.stringify(text));
    t.ok(r && r.errors.length > 0, `errors for ${JSON.stringify(text)}`);
    for (const e of r?.errors ?? []) t.match(e.format(), /^f\.yaml:\d+:\d+ /);
  }
});
