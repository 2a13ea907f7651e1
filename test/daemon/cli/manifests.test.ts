import t, { type Test } from 'tap';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { readManifestSources, STDIN_NAME } from '../../../daemon/src/cli/manifests.js';

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-manifests-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const noStdin = (): NodeJS.ReadableStream => Readable.from([]);

/** A tree: top-level yaml/yml/json files, a README, a subdirectory and a nested one. */
function tree(t: Test): string {
  const dir = tmp(t);
  writeFileSync(join(dir, 'b.yaml'), 'b');
  writeFileSync(join(dir, 'a.yml'), 'a');
  writeFileSync(join(dir, 'c.json'), '{}');
  writeFileSync(join(dir, 'README.md'), 'not a manifest');
  writeFileSync(join(dir, 'notes.txt'), 'no');
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(dir, 'sub', 'x.yaml'), 'x');
  writeFileSync(join(dir, 'sub', 'deeper', 'y.YAML'), 'y');
  return dir;
}

t.test('reads a directory\'s yaml, yml and json files in name order, subdirectories only when recursive', async (t) => {
  const dir = tree(t);
  const flat = await readManifestSources([dir], noStdin(), {});
  t.same(flat.map((s) => s.file), [join(dir, 'a.yml'), join(dir, 'b.yaml'), join(dir, 'c.json')]);
  t.same(flat.map((s) => s.text), ['a', 'b', '{}']);
  const deep = await readManifestSources([dir], noStdin(), { recursive: true });
  t.same(deep.map((s) => s.file), [join(dir, 'a.yml'), join(dir, 'b.yaml'), join(dir, 'c.json'), join(dir, 'sub', 'deeper', 'y.YAML'), join(dir, 'sub', 'x.yaml')]);
});

t.test('reads a named file whatever its extension, in the order given', async (t) => {
  const dir = tree(t);
  const r = await readManifestSources([join(dir, 'notes.txt'), join(dir, 'a.yml')], noStdin(), {});
  t.same(r, [{ file: join(dir, 'notes.txt'), text: 'no' }, { file: join(dir, 'a.yml'), text: 'a' }]);
});

t.test('reads "-" from stdin once, named <stdin>', async (t) => {
  const stdin = Readable.from([Buffer.from('kind: '), Buffer.from('Namespace\n')]);
  const r = await readManifestSources(['-', '-'], stdin, {});
  t.same(r, [{ file: STDIN_NAME, text: 'kind: Namespace\n' }, { file: '<stdin>', text: 'kind: Namespace\n' }]);
});

t.test('fails like kubectl when a path does not exist', async (t) => {
  const dir = tmp(t);
  await t.rejects(readManifestSources([join(dir, 'missing.yaml')], noStdin(), {}), { message: `the path "${join(dir, 'missing.yaml')}" does not exist` });
  await t.rejects(readManifestSources([join(dir, 'no', 'such', 'dir')], noStdin(), { recursive: true }), { message: /does not exist/ });
  await t.rejects(readManifestSources(['https://example.com/x.yaml'], noStdin(), {}), { message: /URLs is not supported/ });
});

t.test('does not follow symlinked directories but reads symlinked manifest files', async (t) => {
  const dir = tree(t);
  const other = tmp(t);
  writeFileSync(join(other, 'z.yaml'), 'z');
  symlinkSync(other, join(dir, 'linked-dir'));
  symlinkSync(join(other, 'z.yaml'), join(dir, 'd.yaml'));
  symlinkSync(join(other, 'gone.yaml'), join(dir, 'e.yaml'));
  const r = await readManifestSources([dir], noStdin(), { recursive: true });
  t.ok(r.some((s) => s.file === join(dir, 'd.yaml') && s.text === 'z'), 'the file link is read');
  t.notOk(r.some((s) => s.file.includes('linked-dir')), 'the directory link is not walked');
  t.notOk(r.some((s) => s.file === join(dir, 'e.yaml')), 'a dangling link is skipped');
});

t.test('an empty directory gives no sources', async (t) => {
  t.same(await readManifestSources([tmp(t)], noStdin(), { recursive: true }), []);
});
