/**
 * cmdline.txt on the boot partition: the kernel command line, one line. Raspberry Pi OS
 * ships with the memory cgroup off, so Docker cannot enforce memory limits: add
 * `cgroup_enable=memory cgroup_memory=1` without duplicating a flag that is already there
 * and keeping every other byte (including whether the file ends with a newline) as it was.
 */

export const CGROUP_FLAGS = ['cgroup_enable=memory', 'cgroup_memory=1'] as const;

export class CmdlineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CmdlineError';
  }
}

export interface CmdlineResult {
  text: string;
  /** Flags that were added (empty when the line already had them all). */
  added: string[];
  /** Things a person should know, e.g. a cgroup_disable=memory that overrides ours. */
  warnings: string[];
}

export function addCgroupFlags(original: string): CmdlineResult {
  const m = /^([^\r\n]*)(\r?\n)?$/.exec(original);
  if (!m) {
    throw new CmdlineError('cmdline.txt has more than one line, but the firmware reads only the first: join it into one line by hand, then run again');
  }
  const line = m[1] as string;
  const eol = m[2] ?? '';
  if (line.trim() === '') throw new CmdlineError('cmdline.txt is empty: this does not look like a Raspberry Pi OS boot partition (flash the image again)');
  const tokens = new Set(line.split(/[ \t]+/).filter(Boolean));
  const added = CGROUP_FLAGS.filter((f) => !tokens.has(f));
  const warnings: string[] = [];
  if (tokens.has('cgroup_disable=memory')) {
    warnings.push('cmdline.txt has cgroup_disable=memory, which switches the memory cgroup off again: remove it by hand');
  }
  if (!added.length) return { text: original, added, warnings };
  const sep = /[ \t]$/.test(line) ? '' : ' ';
  return { text: `${line}${sep}${added.join(' ')}${eol}`, added: [...added], warnings };
}
