#!/usr/bin/env node
// `npm run bundle`: the daemon as one offline-installable, reproducible tar.gz for the boards.
//   node scripts/bundle.js [--out FILE (default bundle/pifleet-bundle.tar.gz)] [--node PATH] [--no-build]
// Contents (the layout /opt/pifleet gets on a board, see docs/provisioning.md):
//   dist/ (compiled JavaScript, no source maps), bin/, package.json, package-lock.json,
//   node_modules/ with the production dependencies only (from `npm ls --omit=dev`, copied from
//   this checkout: no network), systemd/pifleet.service, config/pifleet.yaml and
//   docs/provisioning.md when present, and node/bin/node when --node is given.
// Native addons (*.node) are left out: they are built for this machine's CPU, not the board's,
// and the only ones (ssh2's optional crypto binding and cpu-features, used by dockerode for
// SSH connections) fall back to pure JavaScript.
// --node PATH: a Node.js >= 20 binary for the boards (e.g. bin/node from nodejs.org's
// node-v20.x-linux-arm64.tar.xz), or the unpacked directory holding bin/node.
// Same inputs -> same bytes (sorted entries, fixed mtime and owner, gzip -n), so re-writing a
// card with an unchanged bundle changes nothing. Files are packed straight from the checkout
// (a sorted file list for tar), not copied to a staging directory first.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const say = (s) => process.stderr.write(`bundle: ${s}\n`);
const die = (s) => { process.stderr.write(`bundle: error: ${s}\n`); process.exit(1); };

function parseArgs(argv) {
  const o = { out: join(root, 'bundle', 'pifleet-bundle.tar.gz'), node: undefined, build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => { const v = argv[++i]; if (v === undefined) die(`${a} needs a value`); return v; };
    if (a === '--out') o.out = resolve(value());
    else if (a === '--node') o.node = resolve(value());
    else if (a === '--no-build') o.build = false;
    else if (a === '-h' || a === '--help') { process.stdout.write('usage: node scripts/bundle.js [--out FILE] [--node PATH] [--no-build]\n'); process.exit(0); }
    else die(`unknown argument ${a} (usage: node scripts/bundle.js [--out FILE] [--node PATH] [--no-build])`);
  }
  return o;
}

const ELF_MACHINES = { 0x28: 'arm (32-bit)', 0xb7: 'arm64', 0x3e: 'x86-64', 0x03: 'x86' };

/** The CPU an ELF binary is for, or undefined when the file is not ELF. */
function elfArch(file) {
  const fd = openSync(file, 'r');
  const h = Buffer.alloc(20);
  try { readSync(fd, h, 0, 20, 0); } finally { closeSync(fd); }
  if (h.toString('latin1', 0, 4) !== '\x7fELF') return undefined;
  const m = h[5] === 2 ? h.readUInt16BE(18) : h.readUInt16LE(18);
  return ELF_MACHINES[m] ?? `machine 0x${m.toString(16)}`;
}

/** Files under dir (root-relative paths), recursively, for which keep(relPath) is true. */
function walk(rel, keep, out) {
  const abs = join(root, rel);
  const st = lstatSync(abs);
  if (st.isDirectory()) {
    for (const e of readdirSync(abs)) {
      const child = rel ? `${rel}/${e}` : e;
      if (keep(child, true)) walk(child, keep, out);
    }
  } else if (keep(rel, false)) {
    out.push(rel);
  }
  return out;
}

const o = parseArgs(process.argv.slice(2));
let nodeBin;
if (o.node) {
  nodeBin = o.node;
  if (existsSync(nodeBin) && statSync(nodeBin).isDirectory()) nodeBin = join(nodeBin, 'bin', 'node');
  if (!existsSync(nodeBin)) die(`--node ${o.node}: no Node binary there (want the node file or the unpacked node-v20.x-linux-arm64 directory)`);
  const arch = elfArch(nodeBin);
  if (!arch) die(`--node ${nodeBin} is not an ELF executable`);
  say(`including Node binary ${nodeBin} (${arch})${arch === 'arm64' || arch.startsWith('arm') ? '' : ': WARNING, Raspberry Pis need arm64 or arm'}`);
}
if (o.build) {
  say('building (tsc -p tsconfig.json)');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) die('the build failed: fix the errors above (or pass --no-build to pack the existing dist/)');
}
if (!existsSync(join(root, 'dist/daemon/src/main.js'))) die(`${join(root, 'dist')} has no daemon: run npm run build first`);

const files = [];
walk('dist', (f) => !f.endsWith('.map') && !f.endsWith('.tsbuildinfo'), files);
walk('bin', () => true, files);
for (const f of ['package.json', 'package-lock.json', 'systemd/pifleet.service', 'config/pifleet.yaml', 'docs/provisioning.md']) {
  if (existsSync(join(root, f))) files.push(f);
  else if (f === 'systemd/pifleet.service' || f === 'package.json') die(`${f} is missing`);
}

say('collecting production dependencies (npm ls --omit=dev)');
const ls = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const dirs = ls.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(join(root, 'node_modules') + sep));
if (!dirs.length) die(`npm ls --omit=dev listed no dependencies (exit ${ls.status}): ${ls.stderr.trim().split('\n')[0] ?? ''}; run npm ci first`);
const missing = dirs.filter((d) => !existsSync(d));
if (missing.length) die(`dependencies listed but not installed: ${missing.slice(0, 5).join(', ')}: run npm ci`);
for (const d of dirs) {
  const base = relative(root, d).split(sep).join('/');
  // nested node_modules are listed by npm on their own when they are production dependencies
  walk(base, (f, isDir) => {
    const sub = f.slice(base.length + 1);
    if (isDir) return sub !== 'node_modules' && !sub.endsWith('/node_modules') && !sub.split('/').includes('obj.target');
    return !/\.(node|o|a|map)$/.test(f);
  }, files);
}
say(`${dirs.length} packages, ${files.length} files`);

const extra = mkdtempSync(join(tmpdir(), 'pifleet-bundle-'));
try {
  const tarArgs = ['--sort=none', `--mtime=@${process.env.SOURCE_DATE_EPOCH ?? '0'}`, '--owner=0', '--group=0', '--numeric-owner',
    '--mode=go-w', '--dereference', '--use-compress-program=gzip -n -6', '-cf'];
  const sorted = [...new Set(files)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const listFile = join(extra, 'files');
  writeFileSync(listFile, sorted.join('\0'));
  if (nodeBin) {
    mkdirSync(join(extra, 'node', 'bin'), { recursive: true });
    symlinkSync(nodeBin, join(extra, 'node', 'bin', 'node')); // --dereference packs the binary itself
  }
  mkdirSync(dirname(o.out), { recursive: true });
  const tmpOut = `${o.out}.tmp`;
  say(`writing ${o.out}`);
  const args = [...tarArgs, tmpOut, '-C', root, '--null', '--no-recursion', '-T', listFile];
  if (nodeBin) args.push('-C', extra, 'node/bin/node');
  const tar = spawnSync('tar', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (tar.status !== 0) die('tar failed');
  renameSync(tmpOut, o.out);
  const size = statSync(o.out).size;
  say(`done: ${o.out} (${(size / 1048576).toFixed(1)} MiB)${o.node ? '' : '; no Node binary inside: the boards need nodejs >= 20 (nodeRuntime: apt on trixie)'}`);
  process.stdout.write(`${o.out}\n`);
} finally {
  rmSync(extra, { recursive: true, force: true });
}
