/** `pifleet version` and `pifleet api-resources`, as kubectl prints them. */
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { VERSION } from '../../../daemon/src/version.js';
import { apiResources, skewWarning, versionInfo } from '../../../daemon/src/cli/info-commands.js';
import { pifleet } from './run.js';

const NO_DAEMON = { PIFLEET_STATE_DIR: '/nonexistent/pifleet-state', PIFLEET_SERVER: '', PIFLEET_TOKEN: '' };

t.test('version --client prints the client version without asking a server; -o json|yaml as kubectl structures them', async (t) => {
  const plain = await pifleet(['version', '--client'], { env: NO_DAEMON });
  t.same(plain, { code: 0, stdout: `Client Version: v${VERSION}\n`, stderr: '' });
  const json = await pifleet(['version', '--client', '-o', 'json'], { env: NO_DAEMON });
  t.equal(json.code, 0, json.stderr);
  const info = JSON.parse(json.stdout) as { clientVersion: Record<string, string>; serverVersion?: unknown };
  t.match(info.clientVersion, { major: VERSION.split('.')[0], minor: VERSION.split('.')[1], gitVersion: `v${VERSION}`, nodeVersion: process.version });
  t.match(info.clientVersion.platform, /^linux\/(amd64|arm64|arm)$/);
  t.equal(info.serverVersion, undefined);
  t.ok(json.stdout.startsWith('{\n  "clientVersion": {\n    "major"'), 'two-space JSON, kubectl field order');
  const yaml = await pifleet(['version', '--client', '-o', 'yaml'], { env: NO_DAEMON });
  t.same(parseYaml(yaml.stdout), info);
});

t.test('version with no reachable server prints the client version, then why, and fails', async (t) => {
  const r = await pifleet(['version'], { env: NO_DAEMON });
  t.equal(r.code, 1);
  t.equal(r.stdout, `Client Version: v${VERSION}\n`);
  t.match(r.stderr, /no pifleet daemon found/);
  const bad = await pifleet(['version', '-o', 'toml', '--client'], { env: NO_DAEMON });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /argument 'toml' is invalid\. Allowed choices are yaml, json/);
});

t.test("the server's version comes from the version op; a skew beyond one minor version is warned about as kubectl does", async (t) => {
  t.same(versionInfo('0.1.0'), { major: '0', minor: '1', gitVersion: 'v0.1.0' });
  t.same(versionInfo('1.2.3', { node: 'v20.1.0', platform: 'linux', arch: 'arm64' }), { major: '1', minor: '2', gitVersion: 'v1.2.3', nodeVersion: 'v20.1.0', platform: 'linux/arm64' });
  t.equal(skewWarning(versionInfo('0.3.0'), versionInfo('0.2.9')), undefined);
  t.equal(skewWarning(versionInfo('0.3.0'), versionInfo('0.1.0')), 'version difference between client (0.3) and server (0.1) exceeds the supported minor version skew of +/-1');
  t.ok(skewWarning(versionInfo('1.0.0'), versionInfo('0.9.0')), 'a major version apart');
});

t.test('api-resources lists the served kinds: core group first, by name, with short names, API version and scope', async (t) => {
  t.equal(apiResources({}), [
    'NAME          SHORTNAMES   APIVERSION   NAMESPACED   KIND',
    'configmaps    cm           v1           true         ConfigMap',
    'events        ev           v1           true         Event',
    'namespaces    ns           v1           false        Namespace',
    'nodes         no           v1           false        Node',
    'pods          po           v1           true         Pod',
    'secrets                    v1           true         Secret',
    'services      svc          v1           true         Service',
    'daemonsets    ds           apps/v1      true         DaemonSet',
    'deployments   deploy       apps/v1      true         Deployment',
    'replicasets   rs           apps/v1      true         ReplicaSet',
    'cronjobs      cj           batch/v1     true         CronJob',
    'jobs                       batch/v1     true         Job',
    '',
  ].join('\n'));
});

t.test('api-resources -o name|wide, --namespaced, --api-group, --sort-by, --no-headers', async (t) => {
  t.equal(apiResources({ output: 'name', namespaced: false }), 'namespaces\nnodes\n');
  t.equal(apiResources({ output: 'name', apiGroup: 'batch' }), 'cronjobs.batch\njobs.batch\n');
  t.equal(apiResources({ output: 'name', sortBy: 'kind', apiGroup: 'apps' }), 'daemonsets.apps\ndeployments.apps\nreplicasets.apps\n');
  const wide = apiResources({ output: 'wide', namespaced: true, apiGroup: 'apps', noHeaders: true }).split('\n');
  t.match(wide[0], /^daemonsets\s+ds\s+apps\/v1\s+true\s+DaemonSet\s+create,delete,deletecollection,get,list,patch,update,watch\s+all$/);
  t.match(apiResources({ output: 'wide' }).split('\n')[0], /^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND\s+VERBS\s+CATEGORIES$/);
  t.match(apiResources({ output: 'wide', apiGroup: '' }), /\nevents\s+ev\s+v1\s+true\s+Event\s+get,list,watch\s*\n/);
  const cli = await pifleet(['api-resources', '--namespaced=false', '-o', 'name'], { env: NO_DAEMON });
  t.same(cli, { code: 0, stdout: 'namespaces\nnodes\n', stderr: '' }, 'no daemon needed');
  const flag = await pifleet(['api-resources', '--namespaced', '-o', 'name', '--api-group', 'batch'], { env: NO_DAEMON });
  t.equal(flag.stdout, 'cronjobs.batch\njobs.batch\n', '--namespaced alone means true');
});
