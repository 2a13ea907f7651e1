/**
 * The new verbs against a real daemon: `edit` through $EDITOR (a small script) and the API's
 * patch op, `version` with the server's version, and shell completion naming live objects.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PIFLEET_BIN, ROOT, runCli, startTestDaemon, type TestDaemon } from '../../harness/daemon.js';
import { VERSION } from '../../../daemon/src/version.js';
import { scriptEditor as editor } from './editor.js';

const MANIFESTS = `
apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { mode: slow }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, labels: { app: web } }
spec:
  replicas: 0
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: busybox }] }
`;

const editWith = (d: TestDaemon, env: Record<string, string>, args: string[]) => runCli(['edit', ...args], { env: { ...d.env, ...env } });

t.test('edit, version and completion against a running daemon', async (t) => {
  const d = await startTestDaemon(t);
  const applied = await d.cli(['apply', '-f', '-'], { input: MANIFESTS });
  t.equal(applied.code, 0, applied.stderr);

  await t.test('a saved change is applied through the API and get shows it; the file held what get -o yaml shows', async (t) => {
    const ed = editor(t, ['sed -i "s/^  mode: slow$/  mode: fast/" "$1"']);
    const r = await editWith(d, ed.env, ['configmap', 'settings']);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'configmap/settings edited\n');
    const got = await d.json<{ data: Record<string, string>; metadata: { uid: string; resourceVersion: string } }>(['get', 'configmap', 'settings']);
    t.same(got.data, { mode: 'fast' });
    const shown = ed.seen()[0] ?? '';
    t.match(shown, /^# Please edit the object below\./);
    t.match(shown, new RegExp(`uid: ${got.metadata.uid}`), 'server-set fields are shown');
  });

  await t.test('a file saved unchanged changes nothing', async (t) => {
    const before = await d.json<{ metadata: { resourceVersion: string } }>(['get', 'deployment', 'web']);
    const r = await editWith(d, editor(t, [':']).env, ['deployment/web']);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stderr, 'Edit cancelled, no changes made.\n');
    const after = await d.json<{ metadata: { resourceVersion: string } }>(['get', 'deployment', 'web']);
    t.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
  });

  await t.test("a change the server refuses reopens the file with the server's reasons on top; the corrected save is applied", async (t) => {
    const ed = editor(t, [
      // the selector with the template's labels: valid as a manifest, but a selector is immutable
      'sed -i "s/^      app: web$/      app: web2/; s/^        app: web$/        app: web2/" "$1"',
      'sed -i "s/^      app: web2$/      app: web/; s/^        app: web2$/        app: web/; s/^    app: web$/    app: web\\n    tier: front/" "$1"',
    ]);
    const r = await editWith(d, ed.env, ['deployment', 'web']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, /^error: deployments\.apps "web" is invalid$/m);
    t.equal(r.stdout, 'deployment.apps/web edited\n');
    const second = ed.seen()[1] ?? '';
    t.match(second, /^# deployments\.apps "web" was not valid:\n# \* spec\.selector: Invalid value: .*field is immutable\n#\n/m, second.slice(0, 800));
    const got = await d.json<{ metadata: { labels: Record<string, string> }; spec: { selector: unknown } }>(['get', 'deployment', 'web']);
    t.same(got.metadata.labels, { app: 'web', tier: 'front' });
    t.same(got.spec.selector, { matchLabels: { app: 'web' } });
  });

  await t.test('version prints the server version from the version op', async (t) => {
    const r = await d.cli(['version']);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, `Client Version: v${VERSION}\nServer Version: v${VERSION}\n`);
    const j = await d.json<{ serverVersion: { gitVersion: string } }>(['version']);
    t.equal(j.serverVersion.gitVersion, `v${VERSION}`);
  });

  await t.test('completion names the objects the daemon has', async (t) => {
    const script = (await d.cli(['completion', 'bash'])).stdout;
    const file = join(mkdtempSync(join(tmpdir(), 'pifleet-comp-lab-')), 'pifleet.bash');
    t.teardown(() => rmSync(join(file, '..'), { recursive: true, force: true }));
    writeFileSync(file, script);
    const offer = (words: string[]): string[] => execFileSync('bash', ['--norc', '-c',
      `source ${JSON.stringify(file)}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _pifleet; printf '%s\\n' "\${COMPREPLY[@]}"`],
    { encoding: 'utf8', env: d.env, cwd: ROOT }).split('\n').filter(Boolean);
    t.same(offer([PIFLEET_BIN, 'get', 'configmaps', '']), ['settings']);
    t.same(offer([PIFLEET_BIN, 'edit', 'deployment/']), ['deployment/web']);
    t.ok(offer([PIFLEET_BIN, 'get', 'pods', '-n', '']).includes('default'), 'namespaces for -n');
  });
});
