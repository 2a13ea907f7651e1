import t from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBootOffset, isFatBootSector, openImage } from '../../../firmware-setup/src/target/image.js';
import { CMDLINE, fatImage, mread, sh, tmp } from '../helpers.js';

/** An MBR image: partition 1 FAT32 (type 0x0c) at 1 MiB, partition 2 Linux, FAT made with mkfs.vfat --offset. */
function mbrImage(dir: string, type = 'c'): string {
  const img = join(dir, 'mbr.img');
  sh('truncate', ['-s', '96M', img]);
  execFileSync('sfdisk', ['--quiet', img], { input: `label: dos\nstart=2048, size=131072, type=${type}\nstart=133120, type=83\n` });
  sh('mkfs.vfat', ['-F', '32', '--offset', '2048', img, '65536']);
  return img;
}

t.test('a bare FAT image (mkfs.vfat on a file) is used at offset 0', async (t) => {
  const dir = tmp(t);
  const img = fatImage(dir, { 'cmdline.txt': CMDLINE, 'config.txt': 'arm_64bit=1\n' });
  const target = await openImage(img);
  t.match(target.description, /offset 0\)/);
  t.same(await target.listRoot(), ['cmdline.txt', 'config.txt']);
  t.equal((await target.read('cmdline.txt'))?.toString(), CMDLINE);
  t.equal(await target.read('user-data'), undefined);
  await target.write('pifleet/sub/x.bin', Buffer.from([0, 1, 2, 255]));
  t.same(mread(img, 'pifleet/sub/x.bin'), Buffer.from([0, 1, 2, 255]), 'binary-safe, parent directories created');
  await target.write('pifleet/sub/x.bin', Buffer.from('second'));
  t.equal(mread(img, 'pifleet/sub/x.bin')?.toString(), 'second', 'replaced without a prompt');
});

t.test('an MBR image is written in partition 1 at its offset, not at the start of the disk', async (t) => {
  const dir = tmp(t);
  const img = mbrImage(dir);
  const offset = 2048 * 512;
  writeFileSync(join(dir, 'cmdline.txt'), CMDLINE);
  sh('mcopy', ['-i', `${img}@@${offset}`, join(dir, 'cmdline.txt'), '::/cmdline.txt']);
  const target = await openImage(img);
  t.match(target.description, new RegExp(`offset ${offset}\\)`));
  t.same(await target.listRoot(), ['cmdline.txt']);
  await target.write('user-data', Buffer.from('#cloud-config\n'));
  t.equal(mread(img, 'user-data', offset)?.toString(), '#cloud-config\n');
});

t.test('partition tables without a FAT first partition are refused with the reason', async (t) => {
  const dir = tmp(t);
  const img = mbrImage(dir, '83');
  await t.rejects(openImage(img), { name: 'TargetRefused' });
  await t.rejects(openImage(img), /partition 1 has type 0x83, not FAT/);
  const junk = join(dir, 'junk.img');
  writeFileSync(junk, Buffer.alloc(4096, 7));
  await t.rejects(openImage(junk), /no MBR partition table and no FAT file system/);
  await t.rejects(openImage(join(dir, 'missing.img')), /cannot open the image/);
});

t.test('the MBR and boot-sector checks tell a FAT boot sector from a partition table', async (t) => {
  const dir = tmp(t);
  const head = (f: string): Buffer => execFileSync('head', ['-c', '512', f]);
  const fat = fatImage(dir, {});
  t.ok(isFatBootSector(head(fat)));
  t.equal(findBootOffset(head(fat), 64 << 20), 0);
  const mbr = mbrImage(dir);
  t.notOk(isFatBootSector(head(mbr)));
  t.equal(findBootOffset(head(mbr), 96 << 20), 2048 * 512);
  t.match(findBootOffset(head(mbr), 1 << 20), /outside the/, 'a truncated image is refused');
  const gpt = Buffer.from(head(mbr));
  gpt[446 + 4] = 0xee;
  t.match(findBootOffset(gpt, 96 << 20), /GPT/);
});
