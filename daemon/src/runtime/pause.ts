/**
 * The pod infra ("pause") image, built offline: a multi-container pod's containers join the
 * network namespace of one long-lived infra container. No registry is reachable on a fleet
 * and a board may have no busybox, so the image is generated here: a static ELF executable of
 * a few instructions that sleeps in a syscall forever, wrapped in a one-file root filesystem.
 *
 * The program does not handle SIGTERM (it is PID 1 in its container, so the kernel ignores
 * signals it has no handler for): the agent stops it with a short grace period and SIGKILL.
 *
 * Pure: bytes in, bytes out. runtime/docker.ts imports the tar into Docker.
 */
import { createTar } from './tar.js';

export const PAUSE_IMAGE = 'pifleet/pause:1';
export const PAUSE_REPO = 'pifleet/pause';
export const PAUSE_TAG = '1';
/** Dockerfile instructions applied on import. */
export const PAUSE_IMAGE_CHANGES = ['CMD ["/pause"]', 'LABEL pifleet.pause="1"'];

export type PauseArch = 'x64' | 'arm64' | 'arm';

export const ELF_MACHINE: Record<PauseArch, number> = { x64: 62, arm64: 183, arm: 40 };

/** Load address of the single PT_LOAD segment; 64 KiB aligned so 4K/16K/64K page kernels all accept it. */
export const ELF_BASE: Record<PauseArch, number> = { x64: 0x400000, arm64: 0x400000, arm: 0x10000 };

function words(...ws: number[]): Buffer {
  const b = Buffer.alloc(ws.length * 4);
  ws.forEach((w, i) => b.writeUInt32LE(w >>> 0, i * 4));
  return b;
}

/** The machine code: loop forever in a blocking syscall. */
export function pauseCode(arch: PauseArch): Buffer {
  switch (arch) {
    case 'x64':
      // loop: mov eax, 34 (pause); syscall; jmp loop
      return Buffer.from([0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7]);
    case 'arm64':
      // arm64 has no pause(2): ppoll(NULL, 0, NULL, NULL) (nr 73) blocks until a signal.
      // loop: movz x0,#0; movz x1,#0; movz x2,#0; movz x3,#0; movz x8,#73; svc #0; b loop
      return words(0xd2800000, 0xd2800001, 0xd2800002, 0xd2800003, 0xd2800000 | (73 << 5) | 8, 0xd4000001, 0x17fffffa);
    case 'arm':
      // EABI: loop: mov r7, #29 (pause); svc #0; b loop
      return words(0xe3a0701d, 0xef000000, 0xeafffffc);
  }
}

/** A complete static ELF executable (ELF header, one PT_LOAD program header, code) for arch. */
export function pauseElf(arch: PauseArch): Buffer {
  const code = pauseCode(arch);
  const is64 = arch !== 'arm';
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const codeOffset = ehsize + phentsize;
  const total = codeOffset + code.length;
  const base = ELF_BASE[arch];
  const entry = base + codeOffset;
  const b = Buffer.alloc(total, 0);
  // e_ident
  b.write('\x7fELF', 0, 'latin1');
  b[4] = is64 ? 2 : 1; // EI_CLASS
  b[5] = 1; // EI_DATA: little endian
  b[6] = 1; // EI_VERSION
  b[7] = 0; // EI_OSABI: System V
  b.writeUInt16LE(2, 16); // e_type: ET_EXEC
  b.writeUInt16LE(ELF_MACHINE[arch], 18);
  b.writeUInt32LE(1, 20); // e_version
  if (is64) {
    b.writeBigUInt64LE(BigInt(entry), 24); // e_entry
    b.writeBigUInt64LE(BigInt(ehsize), 32); // e_phoff
    b.writeBigUInt64LE(0n, 40); // e_shoff
    b.writeUInt32LE(0, 48); // e_flags
    b.writeUInt16LE(ehsize, 52);
    b.writeUInt16LE(phentsize, 54);
    b.writeUInt16LE(1, 56); // e_phnum
    b.writeUInt16LE(64, 58); // e_shentsize
    b.writeUInt16LE(0, 60); // e_shnum
    b.writeUInt16LE(0, 62); // e_shstrndx
    const p = ehsize;
    b.writeUInt32LE(1, p); // p_type: PT_LOAD
    b.writeUInt32LE(5, p + 4); // p_flags: R + X
    b.writeBigUInt64LE(0n, p + 8); // p_offset
    b.writeBigUInt64LE(BigInt(base), p + 16); // p_vaddr
    b.writeBigUInt64LE(BigInt(base), p + 24); // p_paddr
    b.writeBigUInt64LE(BigInt(total), p + 32); // p_filesz
    b.writeBigUInt64LE(BigInt(total), p + 40); // p_memsz
    b.writeBigUInt64LE(0x10000n, p + 48); // p_align
  } else {
    b.writeUInt32LE(entry, 24);
    b.writeUInt32LE(ehsize, 28); // e_phoff
    b.writeUInt32LE(0, 32); // e_shoff
    b.writeUInt32LE(0x05000400, 36); // e_flags: EABI version 5, hard float
    b.writeUInt16LE(ehsize, 40);
    b.writeUInt16LE(phentsize, 42);
    b.writeUInt16LE(1, 44); // e_phnum
    b.writeUInt16LE(40, 46); // e_shentsize
    b.writeUInt16LE(0, 48);
    b.writeUInt16LE(0, 50);
    const p = ehsize;
    b.writeUInt32LE(1, p); // PT_LOAD
    b.writeUInt32LE(0, p + 4); // p_offset
    b.writeUInt32LE(base, p + 8); // p_vaddr
    b.writeUInt32LE(base, p + 12); // p_paddr
    b.writeUInt32LE(total, p + 16); // p_filesz
    b.writeUInt32LE(total, p + 20); // p_memsz
    b.writeUInt32LE(5, p + 24); // p_flags
    b.writeUInt32LE(0x10000, p + 28); // p_align
  }
  code.copy(b, codeOffset);
  return b;
}

/** Map Node's process.arch to a supported pause architecture, or throw an actionable error. */
export function pauseArchFor(nodeArch: string): PauseArch {
  if (nodeArch === 'x64' || nodeArch === 'arm64' || nodeArch === 'arm') return nodeArch;
  throw new Error(`cannot build the pause image for CPU architecture "${nodeArch}": supported are x64, arm64 and arm (32-bit ARM EABI)`);
}

/** The image's root filesystem: /pause (0755) and nothing else. */
export function pauseRootfsTar(arch: PauseArch): Buffer {
  return createTar([{ type: 'file', path: 'pause', data: pauseElf(arch), mode: 0o755 }]);
}
