/**
 * A boot partition to write into: a mounted directory or the FAT file system inside an
 * image file. The writer only sees this interface. Also owns the rule for what counts as
 * a Raspberry Pi boot partition, so every target refuses the same things for the same reason.
 */

export interface BootTarget {
  /** For messages: "boot partition /media/bootfs", "image pi.img (FAT at offset 4194304)". */
  readonly description: string;
  /** Names of the entries at the root of the partition. */
  listRoot(): Promise<string[]>;
  /** A file's bytes (path relative to the partition root, '/' separated); undefined when absent. */
  read(path: string): Promise<Buffer | undefined>;
  /** Create or replace a file, creating its parent directory. */
  write(path: string, data: Buffer): Promise<void>;
}

/** Refused: not a boot partition, unreadable image, unsupported partition table. Exit code 2. */
export class TargetRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefused';
  }
}

const FIRMWARE = [/^config\.txt$/i, /^start.*\.elf$/i, /^bootcode\.bin$/i, /\.dtb$/i, /^kernel.*\.img$/i];

/**
 * Why the listed root entries are not a Raspberry Pi boot partition, or undefined when they are:
 * cmdline.txt must be there (we edit it) and at least one firmware file (config.txt, start*.elf,
 * bootcode.bin, *.dtb, kernel*.img).
 */
export function notABootPartition(names: string[]): string | undefined {
  const has = (re: RegExp): boolean => names.some((n) => re.test(n));
  const firmware = names.filter((n) => FIRMWARE.some((re) => re.test(n)));
  const seen = names.length ? `it has ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}` : 'it is empty';
  if (!has(/^cmdline\.txt$/i)) {
    return `no cmdline.txt, so this is not a Raspberry Pi OS boot partition (${seen}); ` +
      'flash Raspberry Pi OS first and point --boot at the small FAT partition (bootfs), or --image at the .img file';
  }
  if (!firmware.length) {
    return `cmdline.txt but no firmware files (config.txt, start*.elf, bootcode.bin, *.dtb) next to it (${seen}); ` +
      'this does not look like a Raspberry Pi boot partition';
  }
  return undefined;
}
