/**
 * A stand-in for $EDITOR: a shell script that copies what it was shown to seen-N and then runs
 * actions[N-1] (shell, `$1` is the file) in round N; the last action repeats in later rounds.
 */
import type { Test } from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScriptEditor {
  /** EDITOR, EDIT_STATE (where the script keeps its rounds) and TMPDIR (where edit's file goes). */
  env: Record<string, string>;
  /** The directory edit's temporary files go to. */
  tmp: string;
  /** What the editor was shown, round by round. */
  seen(): string[];
}

export function scriptEditor(t: Test, actions: string[]): ScriptEditor {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-editor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');
  const tmp = join(dir, 'tmp');
  mkdirSync(state);
  mkdirSync(tmp);
  actions.forEach((a, i) => writeFileSync(join(state, `action-${i + 1}.sh`), `${a}\n`));
  writeFileSync(join(state, 'action.sh'), `${actions[actions.length - 1] ?? ':'}\n`);
  const script = join(dir, 'editor.sh');
  writeFileSync(script, [
    '#!/bin/sh',
    'n=$(( $(cat "$EDIT_STATE/count" 2>/dev/null || echo 0) + 1 ))',
    'echo "$n" > "$EDIT_STATE/count"',
    'cp "$1" "$EDIT_STATE/seen-$n"',
    'if [ -f "$EDIT_STATE/action-$n.sh" ]; then . "$EDIT_STATE/action-$n.sh"; else . "$EDIT_STATE/action.sh"; fi',
    '',
  ].join('\n'));
  chmodSync(script, 0o755);
  return {
    env: { EDITOR: script, EDIT_STATE: state, TMPDIR: tmp },
    tmp,
    seen: () => {
      const out: string[] = [];
      for (let n = 1; existsSync(join(state, `seen-${n}`)); n++) out.push(readFileSync(join(state, `seen-${n}`), 'utf8'));
      return out;
    },
  };
}
