/**
 * One entry for `pifleet`: daemon/src/main.ts runs the CLI and loads the daemon only for
 * `pifleet daemon`. The CLI's module graph (what importing cli/main.js and running its
 * daemon-free verbs loads) holds none of the daemon's modules; a module-resolution hook in a
 * child process lists every module loaded.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '../../..');
const SRC = join(ROOT, 'daemon/src');

/** The daemon's own modules and the packages only it needs. */
const DAEMON_ONLY = [
  /\/daemon\/src\/(agent|runtime|controllers|leader|apiserver|scheduler|network)\//,
  /\/daemon\/src\/cluster\/raft\//,
  /\/daemon\/src\/broker\/broker\.[jt]s$/,
  /\/daemon\/src\/(daemon|daemon-command)\.[jt]s$/,
  /\/node_modules\/(dockerode|aedes|bonjour-service|node-cron|systeminformation)\//,
];

/** Run `script` (ESM) under tsx with a hook that records every resolved module URL. */
function loadedBy(t: Test, script: string): Promise<{ urls: string[]; stdout: string; stderr: string; code: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-graph-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'hooks.mjs'), `
let port;
export async function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port.postMessage(r.url);
  return r;
}
`);
  const out = join(dir, 'loaded.json');
  writeFileSync(join(dir, 'register.mjs'), `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
const seen = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (u) => seen.add(u));
port1.unref();
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { port: port2 }, transferList: [port2] });
process.on('exit', () => writeFileSync(${JSON.stringify(out)}, JSON.stringify([...seen])));
`);
  writeFileSync(join(dir, 'main.mjs'), script);
  return new Promise((res) => {
    execFile(process.execPath, ['--import', 'tsx', '--import', join(dir, 'register.mjs'), join(dir, 'main.mjs')], {
      cwd: ROOT, timeout: 60_000, env: { ...process.env, PIFLEET_STATE_DIR: join(dir, 'no-daemon') },
    }, (err, stdout, stderr) => {
      let urls: string[] = [];
      try { urls = JSON.parse(readFileSync(out, 'utf8')) as string[]; } catch { /* reported below */ }
      res({ urls, stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 });
    });
  });
}

const offenders = (urls: string[]): string[] => urls.filter((u) => DAEMON_ONLY.some((re) => re.test(u)));

t.test("the CLI's module graph, its daemon-free verbs included, loads none of the daemon's modules", async (t) => {
  const cli = pathToFileURL(join(SRC, 'cli/main.ts')).href;
  const r = await loadedBy(t, `
const { main } = await import(${JSON.stringify(cli)});
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = () => true; // the verbs' output is not what is tested
const codes = [];
for (const argv of [['version', '--client'], ['api-resources'], ['explain', 'deploy.spec'], ['completion', 'bash'], ['get', 'pods']]) {
  codes.push(await main(['node', 'pifleet', ...argv]));
}
process.stdout.write = write;
console.log(JSON.stringify(codes));
`);
  t.ok(r.urls.some((u) => u.endsWith('/daemon/src/cli/main.ts')), `the hook saw the CLI load: ${r.stderr.slice(0, 500)}`);
  t.ok(r.urls.some((u) => u.endsWith('/daemon/src/cli/explain/schema.ts')), 'the explain verb ran');
  t.same(JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]'), [0, 0, 0, 0, 1], 'every verb ran; get found no daemon');
  t.same(offenders(r.urls), [], 'no daemon module was loaded');
});

t.test('explain loads its schemas, completion its generator and the client its MQTT library only when used', async (t) => {
  const cli = pathToFileURL(join(SRC, 'cli/main.ts')).href;
  const r = await loadedBy(t, `
const { main } = await import(${JSON.stringify(cli)});
process.exitCode = await main(['node', 'pifleet', 'api-resources', '-o', 'name']);
`);
  t.equal(r.code, 0, r.stderr);
  const lazy = r.urls.filter((u) => /\/cli\/explain\/|\/cli\/completion\.ts$|\/broker\/client\.ts$|\/node_modules\/mqtt\//.test(u));
  t.same(lazy, []);
});

t.test('the daemon entry does load them (the check above can fail)', async (t) => {
  const entry = pathToFileURL(join(SRC, 'daemon-command.ts')).href;
  const r = await loadedBy(t, `await import(${JSON.stringify(entry)});`);
  t.equal(r.code, 0, r.stderr);
  const hit = offenders(r.urls);
  t.ok(hit.some((u) => /\/daemon\/src\/agent\//.test(u)), 'agent/');
  t.ok(hit.some((u) => /\/daemon\/src\/runtime\//.test(u)), 'runtime/');
  t.ok(hit.some((u) => /\/broker\/broker\.ts$/.test(u)), 'broker/broker.ts');
});

t.test('only the entry hands `pifleet daemon` to the daemon; the CLI alone refuses it', async (t) => {
  const { main } = await import('../../../daemon/src/cli/main.js');
  let errText = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { errText += s; return true; }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['node', 'pifleet', 'daemon', '--node-name', 'x']);
  } finally {
    process.stderr.write = write;
  }
  t.equal(code, 1);
  t.match(errText, /this entry of pifleet has no daemon/);
  const got: unknown[] = [];
  const code2 = await main(['node', 'pifleet', '--state-dir', '/tmp/sd', '--cluster', 'c1', 'daemon', '--node-name', 'n1', '--mqtt-port', '1884'], { runDaemon: async (f) => { got.push(f); } });
  t.equal(code2, 0);
  t.match(got[0], { stateDir: '/tmp/sd', cluster: 'c1', nodeName: 'n1', mqttPort: 1884 }, 'flags before and after `daemon` reach the daemon');
});

t.test('bin/pifleet.js runs the one entry and still waits for its output to drain before exiting', async (t) => {
  const bin = readFileSync(join(ROOT, 'bin/pifleet.js'), 'utf8');
  t.match(bin, /import\('\.\.\/dist\/daemon\/src\/main\.js'\)/);
  t.match(bin, /process\.stdout\.write\('', \(\) => process\.stderr\.write\('', \(\) => process\.exit\(code\)\)\)/);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  t.equal(pkg.bin.pifleet, 'bin/pifleet.js');
});
