/**
 * `write` warns (once, on stderr) when the plan sits in a git work tree that does not ignore the
 * secrets file: one `git add -A` would commit the fleet's token. Temporary git repositories.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, sh, tmp, writePlan, CMDLINE, REPO } from './helpers.js';
import { secretsNotIgnoredWarning } from '../../firmware-setup/src/secrets.js';

const hasGit = spawnSync('git', ['--version']).status === 0;

/** A git work tree in a temp directory (no global ignores: core.excludesFile is pointed at nothing). */
function repo(t: Test): string {
  const dir = tmp(t, 'pifleet-setup-git-');
  sh('git', ['init', '--quiet', dir]);
  sh('git', ['-C', dir, 'config', 'core.excludesFile', '/dev/null']);
  return dir;
}

function boot(dir: string): string {
  const b = join(dir, 'bootfs');
  mkdirSync(b);
  writeFileSync(join(b, 'cmdline.txt'), CMDLINE);
  writeFileSync(join(b, 'config.txt'), 'arm_64bit=1\n');
  return b;
}

const write = (plan: string, bootDir: string) => cli(['write', '--plan', plan, '--board', 'pi0', '--boot', bootDir]);
const warnings = (err: string): string[] => err.split('\n').filter((l) => l.includes('git does not ignore it') || l.includes('git tracks it'));

t.test('write in a git work tree that does not ignore the secrets file warns once, on stderr', { skip: !hasGit && 'git is not installed' }, async (t) => {
  const dir = repo(t);
  const plan = writePlan(dir);
  const r = await write(plan, boot(dir));
  t.equal(r.code, 0, r.err);
  const w = warnings(r.err);
  t.equal(w.length, 1, r.err);
  t.match(w[0], /^warning: .*fleet\.secrets\.yaml holds the fleet's join token and git does not ignore it: one `git add -A` commits it; add `\*\.secrets\.yaml` to \.gitignore$/);
  t.notMatch(r.out, /secrets/, 'stdout carries only the results');
  const again = await write(plan, join(dir, 'bootfs'));
  t.equal(warnings(again.err).length, 1, 'every run says it again, once');
});

t.test('a .gitignore with *.secrets.yaml (as this repository has) silences it', { skip: !hasGit && 'git is not installed' }, async (t) => {
  const dir = repo(t);
  writeFileSync(join(dir, '.gitignore'), readFileSync(join(REPO, '.gitignore'), 'utf8'));
  const plan = writePlan(dir);
  const r = await write(plan, boot(dir));
  t.equal(r.code, 0, r.err);
  t.same(warnings(r.err), []);
  t.equal(sh('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=all']).split('\n').filter((l) => l.includes('secrets')).length, 0, 'git add -A would leave it out');
});

t.test('a plan in a subdirectory is covered by the top-level .gitignore too', { skip: !hasGit && 'git is not installed' }, async (t) => {
  const dir = repo(t);
  writeFileSync(join(dir, '.gitignore'), '*.secrets.yaml\n');
  mkdirSync(join(dir, 'fleets'));
  const plan = writePlan(join(dir, 'fleets'), (s) => s, 'home.yaml');
  const r = await write(plan, boot(dir));
  t.same(warnings(r.err), []);
  t.equal(secretsNotIgnoredWarning(join(dir, 'fleets', 'home.secrets.yaml')), undefined);
  t.ok(secretsNotIgnoredWarning(join(dir, 'fleets', 'home.secret.yaml')), 'a name the pattern misses is reported');
});

t.test('a secrets file git already tracks is reported as such, whatever .gitignore says', { skip: !hasGit && 'git is not installed' }, async (t) => {
  const dir = repo(t);
  const plan = writePlan(dir);
  await write(plan, boot(dir));
  writeFileSync(join(dir, '.gitignore'), '*.secrets.yaml\n');
  sh('git', ['-C', dir, 'add', '--force', 'fleet.secrets.yaml']);
  t.match(secretsNotIgnoredWarning(join(dir, 'fleet.secrets.yaml')), /git tracks it \(staged or committed\): remove it from the repository \(git rm --cached\)/);
});

t.test('no warning outside a git work tree', async (t) => {
  const dir = tmp(t);
  const plan = writePlan(dir);
  const r = await write(plan, boot(dir));
  t.equal(r.code, 0, r.err);
  t.same(warnings(r.err), []);
});
