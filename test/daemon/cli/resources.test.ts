import t from 'tap';
import { parseResourceArgs, parseTypedName, parseDuration, refName, quotedName, pluralName } from '../../../daemon/src/cli/resources.js';
import { CliError } from '../../../daemon/src/cli/client.js';

t.test('accepts kubectl resource names, short names and TYPE/NAME forms', async (t) => {
  t.same(parseResourceArgs(['po']).map((r) => [r.info.kind, r.names]), [['Pod', []]]);
  t.same(parseResourceArgs(['deploy', 'a', 'b']).map((r) => [r.info.kind, r.names]), [['Deployment', ['a', 'b']]]);
  t.same(parseResourceArgs(['pods,svc']).map((r) => r.info.kind), ['Pod', 'Service']);
  t.same(parseResourceArgs(['deploy/web', 'pod/x', 'deployment/api']).map((r) => [r.info.kind, r.names]), [['Deployment', ['web', 'api']], ['Pod', ['x']]]);
  t.same(parseTypedName('cronjob/nightly').info.kind, 'CronJob');
  t.ok(parseResourceArgs(['all']).length >= 5, 'all expands to the workload kinds');
});

t.test('rejects unknown types, empty arguments and names with several types', async (t) => {
  t.throws(() => parseResourceArgs(['frobs']), CliError);
  t.throws(() => parseResourceArgs([]), /must specify the type/);
  t.throws(() => parseResourceArgs(['pods,svc', 'x']), /names cannot be given/);
  t.throws(() => parseTypedName('deploy/'), /resource\/name form/);
});

t.test('parses durations as kubectl does and rejects garbage', async (t) => {
  t.equal(parseDuration('30s'), 30_000);
  t.equal(parseDuration('1h30m'), 5_400_000);
  t.equal(parseDuration('250ms'), 250);
  t.equal(parseDuration('12'), 12_000);
  t.throws(() => parseDuration('5 minutes'), /invalid duration/);
  t.throws(() => parseDuration(''), /invalid duration/);
});

t.test('names objects with their API group as kubectl prints them', async (t) => {
  t.equal(refName('Deployment', 'web'), 'deployment.apps/web');
  t.equal(refName('Pod', 'p'), 'pod/p');
  t.equal(refName('Job', 'j'), 'job.batch/j');
  t.equal(quotedName('CronJob', 'c'), 'cronjob.batch "c"');
  t.equal(pluralName('Deployment', 'web'), 'deployments.apps "web"');
});
