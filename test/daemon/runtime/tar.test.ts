import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTar, splitUstarPath } from '../../../daemon/src/runtime/tar.js';

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-tar-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('an archive of files, directories and symlinks unpacks with GNU tar to the same content and modes', async (t) => {
  const dir = tmp(t);
  const long = `${'d'.repeat(80)}/${'e'.repeat(60)}/file-with-a-long-name.txt`;
  const tar = createTar([
    { type: 'dir', path: 'bin', mode: 0o755 },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'file', path: 'bin/tool', data: Buffer.from([0, 1, 2, 255]), mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: '/bin/tool' },
    { type: 'file', path: '/etc/motd', data: 'hello\n' },
    { type: 'file', path: 'empty', data: '' },
    { type: 'file', path: long, data: 'x'.repeat(1000) },
  ]);
  t.equal(tar.length % 512, 0, 'a whole number of 512-byte blocks');
  writeFileSync(join(dir, 'a.tar'), tar);
  const root = join(dir, 'root');
  execFileSync('mkdir', [root]);
  execFileSync('tar', ['-x', '-p', '-f', join(dir, 'a.tar'), '-C', root]);
  t.same([...readFileSync(join(root, 'bin/tool'))], [0, 1, 2, 255]);
  t.equal(statSync(join(root, 'bin/tool')).mode & 0o7777, 0o755);
  t.equal(statSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
  t.equal(readlinkSync(join(root, 'bin/sh')), '/bin/tool');
  t.equal(readFileSync(join(root, 'etc/motd'), 'utf8'), 'hello\n');
  t.equal(statSync(join(root, 'empty')).size, 0);
  t.equal(readFileSync(join(root, long), 'utf8'), 'x'.repeat(1000));
  const listing = execFileSync('tar', ['-t', '-v', '-f', join(dir, 'a.tar')], { encoding: 'utf8' });
  t.match(listing, /root\/root/);
});

t.test('the header checksum is the byte sum with the checksum field read as spaces', async (t) => {
  const tar = createTar([{ type: 'file', path: 'a', data: 'abc' }]);
  const h = Buffer.from(tar.subarray(0, 512));
  const stored = parseInt(h.subarray(148, 154).toString('latin1'), 8);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  t.equal(stored, sum);
  t.equal(h.subarray(257, 263).toString('latin1'), 'ustar\0');
  t.equal(parseInt(h.subarray(124, 135).toString('latin1'), 8), 3, 'size field');
});

t.test('long paths are split into prefix and name, and unrepresentable ones are refused with the path named', async (t) => {
  t.same(splitUstarPath('short'), { prefix: '', name: 'short' });
  const p = `${'a'.repeat(120)}/b.txt`;
  t.same(splitUstarPath(p), { prefix: 'a'.repeat(120), name: 'b.txt' });
  t.throws(() => splitUstarPath('x'.repeat(101)), /too long for a ustar header/);
  t.throws(() => createTar([{ type: 'symlink', path: 'l', target: 't'.repeat(101) }]), /symlink target/);
  t.throws(() => createTar([{ type: 'file', path: '', data: '' }]), /empty entry path/);
});
