import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ELF_BASE, ELF_MACHINE, pauseArchFor, pauseCode, pauseElf, pauseRootfsTar, type PauseArch } from '../../../daemon/src/runtime/pause.js';

interface ElfFacts {
  class: number;
  data: number;
  type: number;
  machine: number;
  entry: number;
  phoff: number;
  phnum: number;
  flags: number;
  ptype: number;
  poffset: number;
  pvaddr: number;
  pfilesz: number;
  pmemsz: number;
  pflags: number;
}

/** Parse the fields a kernel's ELF loader looks at, independently of the writer. */
function readElf(b: Buffer): ElfFacts {
  const is64 = b[4] === 2;
  if (is64) {
    const ph = Number(b.readBigUInt64LE(32));
    return {
      class: b[4]!, data: b[5]!, type: b.readUInt16LE(16), machine: b.readUInt16LE(18),
      entry: Number(b.readBigUInt64LE(24)), phoff: ph, phnum: b.readUInt16LE(56), flags: b.readUInt32LE(48),
      ptype: b.readUInt32LE(ph), pflags: b.readUInt32LE(ph + 4), poffset: Number(b.readBigUInt64LE(ph + 8)),
      pvaddr: Number(b.readBigUInt64LE(ph + 16)), pfilesz: Number(b.readBigUInt64LE(ph + 32)), pmemsz: Number(b.readBigUInt64LE(ph + 40)),
    };
  }
  const ph = b.readUInt32LE(28);
  return {
    class: b[4]!, data: b[5]!, type: b.readUInt16LE(16), machine: b.readUInt16LE(18),
    entry: b.readUInt32LE(24), phoff: ph, phnum: b.readUInt16LE(44), flags: b.readUInt32LE(36),
    ptype: b.readUInt32LE(ph), poffset: b.readUInt32LE(ph + 4), pvaddr: b.readUInt32LE(ph + 8),
    pfilesz: b.readUInt32LE(ph + 16), pmemsz: b.readUInt32LE(ph + 20), pflags: b.readUInt32LE(ph + 24),
  };
}

const ARCHES: PauseArch[] = ['x64', 'arm64', 'arm'];

t.test('each pause executable is a static little-endian ELF whose one loadable segment covers the file and whose entry is the code', async (t) => {
  const expectMachine = { x64: 62, arm64: 183, arm: 40 };
  for (const arch of ARCHES) {
    const b = pauseElf(arch);
    const e = readElf(b);
    t.equal(b.subarray(0, 4).toString('latin1'), '\x7fELF', `${arch} magic`);
    t.equal(e.class, arch === 'arm' ? 1 : 2, `${arch} class`);
    t.equal(e.data, 1, `${arch} little endian`);
    t.equal(e.type, 2, `${arch} ET_EXEC`);
    t.equal(e.machine, expectMachine[arch], `${arch} e_machine`);
    t.equal(e.machine, ELF_MACHINE[arch]);
    t.equal(e.phnum, 1, `${arch} one program header`);
    t.equal(e.ptype, 1, `${arch} PT_LOAD`);
    t.equal(e.poffset, 0);
    t.equal(e.pvaddr, ELF_BASE[arch]);
    t.equal(e.pvaddr % 0x10000, 0, `${arch} segment 64 KiB aligned (Pi 5 uses 16K pages)`);
    t.equal(e.pfilesz, b.length, `${arch} p_filesz is the file size`);
    t.equal(e.pmemsz, b.length);
    t.equal(e.pflags, 5, `${arch} R+X`);
    const code = pauseCode(arch);
    t.equal(e.entry, e.pvaddr + b.length - code.length, `${arch} entry points at the code`);
    t.same(b.subarray(b.length - code.length), code);
  }
  t.equal(readElf(pauseElf('arm')).flags & 0xff000000, 0x05000000, 'arm: EABI version 5 (kernels without OABI refuse 0)');
});

t.test('the machine code is a loop around the pause syscall (ppoll on arm64, which has no pause)', async (t) => {
  t.same([...pauseCode('x64')], [0xb8, 34, 0, 0, 0, 0x0f, 0x05, 0xeb, 0x100 - 9], 'mov eax,34; syscall; jmp -9');
  const w = (b: Buffer): number[] => Array.from({ length: b.length / 4 }, (_, i) => b.readUInt32LE(i * 4));
  const a64 = w(pauseCode('arm64'));
  t.equal(a64.length, 7);
  t.equal(a64[4], (0xd2800000 | (73 << 5) | 8) >>> 0, 'movz x8, #73 (ppoll)');
  t.equal(a64[5], 0xd4000001, 'svc #0');
  const b = a64[6]!;
  t.equal(b >>> 26, 0b000101, 'unconditional branch');
  t.equal(((b & 0x3ffffff) << 6) >> 6, -6, 'branches back to the first instruction');
  const a32 = w(pauseCode('arm'));
  t.equal(a32[0], 0xe3a0701d, 'mov r7, #29 (pause)');
  t.equal(a32[1], 0xef000000, 'svc #0');
  t.equal(a32[2]! >>> 24, 0xea, 'branch always');
  t.equal(((a32[2]! & 0xffffff) << 8) >> 8, -4, 'pc+8-16 = the first instruction');
});

function runsAndSleeps(t: Test, argv: string[]): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    let exited: number | null | undefined;
    child.on('exit', (code, sig) => { exited = code ?? (sig ? -1 : null); });
    setTimeout(() => {
      t.equal(exited, undefined, `${argv.join(' ')} is still running after 700 ms`);
      // It must sleep in the syscall, not spin: its CPU time stays near zero.
      const stat = spawnSync('ps', ['-o', 'stat=,time=', '-p', String(child.pid)], { encoding: 'utf8' }).stdout.trim();
      t.match(stat, /^S/, `${argv.join(' ')} is sleeping (ps: ${stat})`);
      child.kill('SIGKILL');
      child.on('close', () => resolve());
      if (exited !== undefined) resolve();
    }, 700);
  });
}

t.test('the x86_64 pause program runs natively and sleeps instead of exiting or spinning', { skip: process.arch !== 'x64' ? 'not an x86_64 machine' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-pause-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pause');
  writeFileSync(file, pauseElf('x64'), { mode: 0o755 });
  await runsAndSleeps(t, [file]);
});

for (const [arch, qemu] of [['arm64', 'qemu-aarch64'], ['arm', 'qemu-arm']] as const) {
  const have = spawnSync('sh', ['-c', `command -v ${qemu}`]).status === 0;
  t.test(`the ${arch} pause program runs under ${qemu} and sleeps`, { skip: have ? false : `${qemu} is not installed (apt-get install qemu-user); the structural tests above still cover ${arch}` }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-pause-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'pause');
    writeFileSync(file, pauseElf(arch), { mode: 0o755 });
    await runsAndSleeps(t, [qemu, file]);
  });
}

t.test('the rootfs holds only /pause with mode 0755, and unsupported CPU architectures are refused by name', async (t) => {
  const tar = pauseRootfsTar('arm64');
  t.equal(tar.subarray(0, 6).toString('latin1'), 'pause\0');
  t.equal(tar.subarray(100, 107).toString('latin1'), '0000755');
  t.equal(tar.length, 512 + 512 + 1024, 'one header, one data block, end marker');
  t.equal(pauseArchFor('x64'), 'x64');
  t.equal(pauseArchFor('arm64'), 'arm64');
  t.equal(pauseArchFor('arm'), 'arm');
  t.throws(() => pauseArchFor('riscv64'), /riscv64.*supported are x64, arm64 and arm/);
});
