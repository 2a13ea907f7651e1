/**
 * scripts/bundle.js (npm run bundle) and the first-boot install script that unpacks it on a
 * board. Packs the compiled dist/ of this checkout (test/run.sh builds it first) and installs
 * it into a temp prefix the way a board's first boot does, then runs the installed commands.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderInstallScript } from '../../firmware-setup/src/render/cloudinit.js';
import { EXAMPLE_PLAN, REPO, tmp } from './helpers.js';

// three bundles of the real node_modules (and one with a 100 MB node binary) take a while on 2 cores
t.setTimeout(240_000);

function bundle(out: string, extra: string[] = []): { code: number; err: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts/bundle.js'), '--no-build', '--out', out, ...extra], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, err: r.stderr };
}

// one bundle shared by the tests that only read it
const shared = mkdtempSync(join(tmpdir(), 'pifleet-bundle-test-'));
t.teardown(() => rmSync(shared, { recursive: true, force: true }));
const SHARED = join(shared, 'pifleet-bundle.tar.gz');
let sharedBuilt: { code: number; err: string } | undefined;
function sharedBundle(): { code: number; err: string } {
  sharedBuilt ??= bundle(SHARED);
  return sharedBuilt;
}

function list(tgz: string): string[] {
  const r = spawnSync('tar', ['-tzf', tgz], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return r.stdout.split('\n').filter(Boolean).map((l) => l.replace(/^\.\//, ''));
}

function install(dir: string, tgz: string): { code: number; out: string; err: string; prefix: string } {
  const script = join(dir, 'pifleet-install');
  writeFileSync(script, renderInstallScript(), { mode: 0o755 });
  const prefix = join(dir, 'opt', 'pifleet');
  const r = spawnSync('sh', [script], {
    encoding: 'utf8',
    env: { ...process.env, PIFLEET_BUNDLE: tgz, PIFLEET_PREFIX: prefix, PIFLEET_UNIT_DIR: join(dir, 'units'), PIFLEET_SYSTEMCTL: 'true' },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr, prefix };
}

t.test('the bundle holds the compiled daemon, bin/, the unit and production dependencies only', async (t) => {
  t.ok(existsSync(join(REPO, 'dist/firmware-setup/src/cli.js')), 'dist/ is built (npm run build; test/run.sh does it)');
  const dir = tmp(t);
  const out = SHARED;
  const r = sharedBundle();
  t.equal(r.code, 0, r.err);
  const files = list(out);
  for (const f of ['dist/daemon/src/main.js', 'dist/daemon/src/cli/main.js', 'dist/firmware-setup/src/cli.js', 'bin/pifleet.js', 'bin/pifleet-setup.js',
    'systemd/pifleet.service', 'package.json', 'node_modules/yaml/package.json', 'node_modules/zod/package.json',
    'node_modules/aedes/package.json', 'node_modules/dockerode/package.json']) {
    t.ok(files.includes(f), `has ${f}`);
  }
  for (const dev of ['typescript', 'tap', 'tsx', '@types/dockerode']) t.notOk(files.some((f) => f.startsWith(`node_modules/${dev}/`)), `no devDependency ${dev}`);
  t.notOk(files.some((f) => f.endsWith('.node')), 'no native addons built for this machine');
  t.notOk(files.some((f) => f.endsWith('.map')), 'no source maps');
  t.notOk(files.includes('node/bin/node'), 'no Node binary unless --node');

  const again = join(dir, 'b.tar.gz');
  t.equal(bundle(again).code, 0);
  t.ok(readFileSync(out).equals(readFileSync(again)), 'the same checkout gives the same bytes (a re-written card stays unchanged)');
});

t.test('the first-boot install unpacks the bundle, links a system Node >= 20 and installs the unit', async (t) => {
  const dir = tmp(t);
  const tgz = SHARED;
  t.equal(sharedBundle().code, 0);
  const r = install(dir, tgz);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /installed 0\.\d+\.\d+ into /);
  const node = join(r.prefix, 'node/bin/node');
  t.ok(lstatSync(node).isSymbolicLink(), 'the system node is linked in');
  t.equal(readFileSync(join(dir, 'units/pifleet.service'), 'utf8'), readFileSync(join(REPO, 'systemd/pifleet.service'), 'utf8'));
  const v = spawnSync(node, [join(r.prefix, 'bin/pifleet.js'), '--version'], { encoding: 'utf8', cwd: dir });
  t.equal(v.status, 0, `installed pifleet runs from its own node_modules: ${v.stderr}`);
  const s = spawnSync(node, [join(r.prefix, 'bin/pifleet-setup.js'), 'validate', '--plan', EXAMPLE_PLAN], { encoding: 'utf8', cwd: dir });
  t.equal(s.status, 0, s.stderr);
  t.match(s.stdout, /valid: cluster home/);

  const missing = install(dir, join(dir, 'nope.tar.gz'));
  t.equal(missing.code, 1);
  t.match(missing.err, /nope\.tar\.gz is missing: write the card with pifleet-setup write --bundle/);
});

t.test('--node puts a Node binary into the bundle and the install uses it instead of the system one', async (t) => {
  const dir = tmp(t);
  // a small real ELF executable stands in for an arm64 node binary (packing and install are the same)
  const fake = join(dir, 'node');
  writeFileSync(fake, readFileSync('/bin/true'), { mode: 0o755 });
  const tgz = join(dir, 'with-node.tar.gz');
  const r = bundle(tgz, ['--node', fake]);
  t.equal(r.code, 0, r.err);
  t.match(r.err, /including Node binary .*\((x86-64|arm64|arm \(32-bit\))\)/);
  t.ok(list(tgz).includes('node/bin/node'));
  const inst = install(dir, tgz);
  t.equal(inst.code, 0, inst.err);
  const node = join(inst.prefix, 'node/bin/node');
  t.notOk(lstatSync(node).isSymbolicLink(), 'the bundled binary, not a link to the system node');
  t.ok(readFileSync(node).equals(readFileSync('/bin/true')));
  t.equal(spawnSync(node, [], {}).status, 0, 'executable');
  const notElf = join(dir, 'node.txt');
  writeFileSync(notElf, 'not a binary');
  const bad = bundle(join(dir, 'bad.tar.gz'), ['--node', notElf]);
  t.equal(bad.code, 1);
  t.match(bad.err, /is not an ELF executable/);
});
