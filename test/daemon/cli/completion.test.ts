/**
 * `pifleet completion bash|zsh`: the scripts parse, and a simulated completion (COMP_WORDS and
 * COMP_CWORD as bash sets them) offers verbs, subcommands, kinds, flags, flag values, files, and
 * object names from `pifleet get KIND -o name` (a stand-in command here records how it was asked).
 */
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../../daemon/src/cli/main.js';
import { completionScript } from '../../../daemon/src/cli/completion.js';
import { pifleet } from './run.js';

const hasZsh = spawnSync('zsh', ['-c', 'true']).status === 0;

function setup(t: Test): { dir: string; bash: string; zsh: string; fake: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-completion-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const program = buildProgram();
  const bash = join(dir, 'pifleet.bash');
  const zsh = join(dir, '_pifleet');
  writeFileSync(bash, completionScript('bash', program));
  writeFileSync(zsh, completionScript('zsh', program));
  const log = join(dir, 'calls');
  const fake = join(dir, 'pifleet');
  writeFileSync(fake, [
    '#!/bin/sh',
    `echo "$*" >> ${JSON.stringify(log)}`,
    'case "$1 $2" in',
    '  "get pods") printf "pod/web-1\\npod/web-2\\n" ;;',
    '  "get deployment"|"get deployments") printf "deployment.apps/web\\ndeployment.apps/api\\n" ;;',
    '  "get namespaces") printf "namespace/default\\nnamespace/prod\\n" ;;',
    '  "get nodes") printf "node/pi-1\\n" ;;',
    'esac',
    '',
  ].join('\n'));
  chmodSync(fake, 0o755);
  writeFileSync(log, '');
  return { dir, bash, zsh, fake, log };
}

/** What bash offers for the words (the last one is being completed). */
function complete(script: string, words: string[], cwd?: string): string[] {
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `source ${JSON.stringify(script)}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _pifleet; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  return out.split('\n').filter(Boolean);
}

t.test('bash accepts the bash script and `pifleet completion bash` prints it', async (t) => {
  const { bash } = setup(t);
  const r = spawnSync('bash', ['-n', bash], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const printed = await pifleet(['completion', 'bash']);
  t.equal(printed.code, 0, printed.stderr);
  t.equal(printed.stdout, readFileSync(bash, 'utf8'));
  t.match(printed.stdout, /^# Load it now: +source <\(pifleet completion bash\)$/m);
  t.match(printed.stdout, /^complete -F _pifleet pifleet$/m);
});

t.test('completing the first word lists every verb', async (t) => {
  const { bash } = setup(t);
  const verbs = buildProgram().commands.map((c) => c.name());
  t.same(complete(bash, ['pifleet', '']), verbs);
  for (const v of ['apply', 'get', 'edit', 'explain', 'version', 'api-resources', 'completion']) t.ok(verbs.includes(v), v);
  t.same(complete(bash, ['pifleet', 'ex']), ['exec', 'explain']);
  t.same(complete(bash, ['pifleet', '--namespace', 'prod', 'ap']), ['apply', 'api-resources'], 'global options before the verb are skipped');
});

t.test('subcommands, kinds, flags and the values of enumerated flags', async (t) => {
  const { bash } = setup(t);
  t.same(complete(bash, ['pifleet', 'rollout', '']), ['status', 'history', 'undo', 'pause', 'resume', 'restart']);
  t.same(complete(bash, ['pifleet', 'completion', '']), ['bash', 'zsh']);
  const kinds = complete(bash, ['pifleet', 'get', '']);
  t.same(kinds.slice(0, 4), ['all', 'namespaces', 'nodes', 'pods']);
  t.ok(kinds.includes('cronjobs') && kinds.includes('deployments'));
  t.same(complete(bash, ['pifleet', 'explain', 'dep']), ['deployments']);
  t.same(complete(bash, ['pifleet', 'get', 'pods', '--wa']), ['--watch', '--watch-only']);
  t.ok(complete(bash, ['pifleet', 'edit', '-']).includes('--output'));
  t.same(complete(bash, ['pifleet', 'get', 'pods', '-o', '']), ['wide', 'json', 'yaml', 'name']);
  t.same(complete(bash, ['pifleet', 'edit', 'pod', 'x', '-o', '']), ['yaml', 'json']);
  t.same(complete(bash, ['pifleet', 'delete', 'pods', '--cascade', 'f']), ['foreground']);
});

t.test('object names come from `pifleet get KIND -o name`, with the namespace and connection flags given', async (t) => {
  const { bash, fake, log } = setup(t);
  t.same(complete(bash, [fake, '-n', 'prod', 'get', 'pods', '']), ['web-1', 'web-2']);
  t.match(readFileSync(log, 'utf8'), /^get pods -o name --request-timeout=1s --namespace prod$/m);
  t.same(complete(bash, [fake, 'describe', 'deployment/a']), ['deployment/api']);
  t.same(complete(bash, [fake, 'logs', '']), ['web-1', 'web-2'], 'logs completes pods');
  t.same(complete(bash, [fake, 'rollout', 'status', 'deployment/']), ['deployment/web', 'deployment/api']);
  t.same(complete(bash, [fake, 'cordon', '']), ['pi-1']);
  t.same(complete(bash, [fake, '--state-dir=/x/y', 'get', 'pods', '-n', '']), ['default', 'prod'], 'namespaces for -n');
  t.match(readFileSync(log, 'utf8'), /^get namespaces -o name --request-timeout=1s --state-dir \/x\/y$/m);
});

t.test('no daemon: no names, and no waiting', async (t) => {
  const { bash, dir } = setup(t);
  const start = Date.now();
  const r = spawnSync('bash', ['--norc', '-c', `source ${JSON.stringify(bash)}; COMP_WORDS=(${JSON.stringify(join(import.meta.dirname, '../../../bin/pifleet.js'))} get pods ''); COMP_CWORD=3; _pifleet; echo "n=\${#COMPREPLY[@]}"`], {
    encoding: 'utf8', env: { ...process.env, PIFLEET_STATE_DIR: join(dir, 'none') }, timeout: 30_000,
  });
  t.match(r.stdout, /^n=0$/m, r.stderr);
  t.ok(Date.now() - start < 15_000, `took ${Date.now() - start} ms`);
});

t.test('file names after -f', async (t) => {
  const { bash, dir } = setup(t);
  writeFileSync(join(dir, 'web.yaml'), 'x');
  t.same(complete(bash, ['pifleet', 'apply', '-f', 'we'], dir), ['web.yaml']);
});

t.test('zsh accepts the zsh script and its core offers the same as bash', { skip: hasZsh ? false : 'zsh is not installed' }, async (t) => {
  const { zsh, bash, fake } = setup(t);
  const r = spawnSync('zsh', ['-n', zsh], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(readFileSync(zsh, 'utf8'), /^#compdef pifleet\n/);
  const core = (words: string[]): string[] => execFileSync('zsh', ['-f', '-c', `compdef() { :; }; source ${JSON.stringify(zsh)}; __pifleet_complete ${words.length - 1} ${words.map((w) => `'${w}'`).join(' ')}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  t.same(core(['pifleet', '']), complete(bash, ['pifleet', '']));
  t.same(core([fake, 'get', 'pods', '']), ['web-1', 'web-2']);
  t.same(core(['pifleet', 'rollout', '']), ['status', 'history', 'undo', 'pause', 'resume', 'restart']);
});
