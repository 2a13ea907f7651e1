import t from 'tap';
import { addCgroupFlags, CmdlineError } from '../../../firmware-setup/src/render/cmdline.js';

const LINE = 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait';

t.test('appends both cgroup flags to the single line and keeps the trailing newline', async (t) => {
  const r = addCgroupFlags(`${LINE}\n`);
  t.equal(r.text, `${LINE} cgroup_enable=memory cgroup_memory=1\n`);
  t.same(r.added, ['cgroup_enable=memory', 'cgroup_memory=1']);
});

t.test('keeps a file without a trailing newline without one, and CRLF as CRLF', async (t) => {
  t.equal(addCgroupFlags(LINE).text, `${LINE} cgroup_enable=memory cgroup_memory=1`);
  t.equal(addCgroupFlags(`${LINE}\r\n`).text, `${LINE} cgroup_enable=memory cgroup_memory=1\r\n`);
});

t.test('adds only the missing flag and leaves a complete line byte-identical', async (t) => {
  const half = `cgroup_memory=1 ${LINE}\n`;
  t.equal(addCgroupFlags(half).text, `cgroup_memory=1 ${LINE} cgroup_enable=memory\n`);
  const done = addCgroupFlags(`${LINE}\n`).text;
  const again = addCgroupFlags(done);
  t.equal(again.text, done);
  t.same(again.added, []);
});

t.test('does not add a second space after a line that ends in whitespace', async (t) => {
  t.equal(addCgroupFlags(`${LINE} \n`).text, `${LINE} cgroup_enable=memory cgroup_memory=1\n`);
});

t.test('warns about a cgroup_disable=memory that would switch the memory cgroup off again', async (t) => {
  const r = addCgroupFlags(`${LINE} cgroup_disable=memory\n`);
  t.match(r.warnings[0], /cgroup_disable=memory/);
  t.match(r.text, / cgroup_disable=memory cgroup_enable=memory cgroup_memory=1\n$/);
});

t.test('refuses a file with two lines and an empty file', async (t) => {
  t.throws(() => addCgroupFlags(`${LINE}\nsecond line\n`), CmdlineError);
  t.throws(() => addCgroupFlags(`${LINE}\n\n`), /more than one line/);
  t.throws(() => addCgroupFlags('\n'), /empty/);
});
