import t, { type Test } from 'tap';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseRuntimeDir, containerMounts, emptyDirOptions, emptyDirVolumeName, isTmpfs, prepareHostPath, projectFiles, VolumeError, writeAtomic } from '../../../daemon/src/agent/volumes.js';
import type { KObject, Pod } from '../../../daemon/src/api/types.js';

const cm: KObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { a: 'A', 'b.txt': 'B' }, binaryData: { bin: Buffer.from([0, 1, 2]).toString('base64') } };
const sec: KObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'default' }, data: { pw: Buffer.from('pw!').toString('base64') } };
const sources = { configMap: (_ns: string, n: string) => (n === 'cfg' ? cm : undefined), secret: (_ns: string, n: string) => (n === 's' ? sec : undefined) };
const pod = (volumes: Pod['spec']['volumes']): Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'uid-1' }, spec: { containers: [{ name: 'c' }], volumes } });

function tmp(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'pf-vol-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('chooses the runtime dir: config, $RUNTIME_DIRECTORY, /run/pifleet on tmpfs, else /dev/shm', async (t) => {
  const tmpfsRun = 'sysfs /sys sysfs rw 0 0\ntmpfs /run tmpfs rw 0 0\n/dev/sda1 / ext4 rw 0 0\n';
  const diskRun = '/dev/sda1 / ext4 rw 0 0\n';
  t.equal(chooseRuntimeDir({ configured: '/x', cluster: 'c', node: 'n', env: {} }), '/x');
  t.equal(chooseRuntimeDir({ cluster: 'c', node: 'n', env: { RUNTIME_DIRECTORY: '/run/pifleet-sd:/other' }, mounts: diskRun }), '/run/pifleet-sd');
  t.equal(chooseRuntimeDir({ cluster: 'c', node: 'n', env: {}, mounts: tmpfsRun }), '/run/pifleet');
  t.equal(chooseRuntimeDir({ cluster: 'c', node: 'n', env: {}, mounts: diskRun }), '/dev/shm/pifleet-c-n');
  t.ok(isTmpfs('/run/pifleet/pods', tmpfsRun));
  t.notOk(isTmpfs('/var/lib/pifleet', tmpfsRun));
  t.notOk(isTmpfs('/runner', tmpfsRun), 'prefix match is by path component');
});

t.test('projects ConfigMap and Secret keys into files with items, modes and kubelet errors', async (t) => {
  const all = projectFiles(pod([]), { name: 'v', configMap: { name: 'cfg' } }, sources);
  t.same([...all!.files.keys()].sort(), ['a', 'b.txt', 'bin']);
  t.equal(all!.files.get('a')?.mode, 0o644);
  t.same([...all!.files.get('bin')!.data], [0, 1, 2]);
  const items = projectFiles(pod([]), { name: 'v', configMap: { name: 'cfg', defaultMode: 0o600, items: [{ key: 'a', path: 'sub/dir/a.conf' }, { key: 'b.txt', path: 'b', mode: 0o640 }] } }, sources);
  t.same([...items!.files.entries()].map(([k, v]) => [k, v.mode]), [['sub/dir/a.conf', 0o600], ['b', 0o640]]);
  const s = projectFiles(pod([]), { name: 'v', secret: { secretName: 's' } }, sources);
  t.equal(s!.files.get('pw')?.mode, 0o400, 'secret files default to 0400');
  t.equal(s!.files.get('pw')?.data.toString(), 'pw!');
  t.throws(() => projectFiles(pod([]), { name: 'v', configMap: { name: 'nope' } }, sources), new VolumeError('v', 'configmap "nope" not found'));
  t.throws(() => projectFiles(pod([]), { name: 'v', secret: { secretName: 'nope' } }, sources), { message: 'secret "nope" not found' });
  t.same([...projectFiles(pod([]), { name: 'v', secret: { secretName: 'nope', optional: true } }, sources)!.files.keys()], []);
  t.throws(() => projectFiles(pod([]), { name: 'v', configMap: { name: 'cfg', items: [{ key: 'zz', path: 'z' }] } }, sources), { message: 'configmap references non-existent config key: zz' });
  t.throws(() => projectFiles(pod([]), { name: 'v', configMap: { name: 'cfg', items: [{ key: 'a', path: '../escape' }] } }, sources), VolumeError);
});

t.test('writes volume files atomically through ..data and replaces them on update', async (t) => {
  const dir = join(tmp(t), 'vol');
  const files = (m: Record<string, string>) => ({ files: new Map(Object.entries(m).map(([k, v]) => [k, { data: Buffer.from(v), mode: 0o400 }])) });
  await writeAtomic(dir, files({ a: '1', 'sub/b': '2' }), 'one');
  t.equal(readFileSync(join(dir, 'a'), 'utf8'), '1');
  t.equal(readFileSync(join(dir, 'sub/b'), 'utf8'), '2');
  t.equal(readlinkSync(join(dir, '..data')), '..one');
  t.ok(lstatSync(join(dir, 'a')).isSymbolicLink());
  t.equal(statSync(join(dir, 'a')).mode & 0o777, 0o400);
  await writeAtomic(dir, files({ a: 'new', c: '3' }), 'two');
  t.equal(readFileSync(join(dir, 'a'), 'utf8'), 'new');
  t.equal(readFileSync(join(dir, 'c'), 'utf8'), '3');
  t.same(readdirSync(dir).sort(), ['..data', '..two', 'a', 'c'], 'the old payload and vanished names are gone');
});

t.test('checks or creates hostPath volumes by type', async (t) => {
  const d = tmp(t);
  await prepareHostPath({ name: 'h', hostPath: { path: join(d, 'new/dir'), type: 'DirectoryOrCreate' } });
  t.ok(statSync(join(d, 'new/dir')).isDirectory());
  await prepareHostPath({ name: 'h', hostPath: { path: join(d, 'f/file'), type: 'FileOrCreate' } });
  t.ok(statSync(join(d, 'f/file')).isFile());
  writeFileSync(join(d, 'plain'), 'x');
  await t.rejects(prepareHostPath({ name: 'h', hostPath: { path: join(d, 'missing'), type: 'Directory' } }), { message: /is not a directory/ });
  await t.rejects(prepareHostPath({ name: 'h', hostPath: { path: join(d, 'plain'), type: 'Directory' } }), VolumeError);
  await t.rejects(prepareHostPath({ name: 'h', hostPath: { path: join(d, 'new'), type: 'File' } }), { message: /is not a file/ });
  await t.resolves(prepareHostPath({ name: 'h', hostPath: { path: join(d, 'missing') } }), 'no type: no check');
});

t.test('turns volumeMounts into runtime mounts', async (t) => {
  const p = pod([
    { name: 'e', emptyDir: {} },
    { name: 'm', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    { name: 'h', hostPath: { path: '/srv/data' } },
    { name: 'c', configMap: { name: 'cfg' } },
  ]);
  const mounts = containerMounts(p, { name: 'x', volumeMounts: [
    { name: 'e', mountPath: '/e' }, { name: 'h', mountPath: '/h', readOnly: true, subPath: 'sub' }, { name: 'c', mountPath: '/etc/c' },
  ] }, '/run/pifleet');
  t.same(mounts, [
    { type: 'volume', source: emptyDirVolumeName(p, 'e'), target: '/e', readOnly: false },
    { type: 'bind', source: '/srv/data/sub', target: '/h', readOnly: true },
    { type: 'bind', source: '/run/pifleet/pods/uid-1/volumes/c', target: '/etc/c', readOnly: true },
  ]);
  t.same(emptyDirOptions({ name: 'm', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }), { tmpfs: true, sizeBytes: 16 * 1024 * 1024 });
  t.same(emptyDirOptions({ name: 'e', emptyDir: {} }), { tmpfs: false });
  t.throws(() => containerMounts(p, { name: 'x', volumeMounts: [{ name: 'zz', mountPath: '/z' }] }, '/run'), { message: /names no volume/ });
});
