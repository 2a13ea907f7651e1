/** `pifleet explain`: kubectl 1.30's plaintext layout over kubernetes-models' schemas. */
import t from 'tap';
import { KINDS } from '../../../daemon/src/api/kinds.js';
import { kindOrThrow } from '../../../daemon/src/cli/resources.js';
import { explain, wrapText } from '../../../daemon/src/cli/explain/print.js';
import { SchemaLoader } from '../../../daemon/src/cli/explain/schema.js';

const ex = (what: string, recursive = false): string => {
  const [kind = '', ...path] = what.split('.');
  return explain(kindOrThrow(kind), path, { recursive });
};
const fieldLine = (text: string, name: string): string | undefined => text.split('\n').find((l) => l.startsWith(`  ${name}\t`));

t.test('explain KIND.FIELD prints GROUP, KIND, VERSION, the FIELD with its type and its DESCRIPTION as kubectl does', async (t) => {
  t.equal(ex('deployment.spec.replicas'), [
    'GROUP:      apps',
    'KIND:       Deployment',
    'VERSION:    v1',
    '',
    'FIELD: replicas <integer>',
    '',
    '',
    'DESCRIPTION:',
    '    Number of desired pods. This is a pointer to distinguish between explicit',
    '    zero and not specified. Defaults to 1.',
    '    ',
    '',
    '',
  ].join('\n'));
});

t.test("explain KIND prints the kind's description and every field: type, then the description wrapped and indented", async (t) => {
  const text = ex('pods');
  t.ok(text.startsWith([
    'KIND:       Pod',
    'VERSION:    v1',
    '',
    'DESCRIPTION:',
    '    Pod is a collection of containers that can run on a host. This resource is',
    '    created by clients and scheduled onto hosts.',
    '    ',
    'FIELDS:',
    '  apiVersion\t<string>',
    '    APIVersion defines the versioned schema of this representation of an object.',
    '    Servers should convert recognized schemas to the latest internal value, and',
    '    may reject unrecognized values. More info:',
    '    https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
    '',
    '  kind\t<string>',
  ].join('\n')), text);
  t.match(text, /\n {2}metadata\t<ObjectMeta>\n {4}Standard object's metadata\. More info:\n/);
  t.same(text.split('\n').filter((l) => /^ {2}\S/.test(l)).map((l) => l.split('\t')[0]!.trim()), ['apiVersion', 'kind', 'metadata', 'spec', 'status'], 'fields in name order');
  t.ok(text.endsWith('\n\n\n'), 'a blank line after each field, and the closing newline');
  t.notOk(text.startsWith('GROUP'), 'the core group has no GROUP line');
});

t.test('types are named as kubectl guesses them: lists, maps, referenced types, int-or-string, required fields', async (t) => {
  const spec = ex('pod.spec');
  t.ok(spec.includes('FIELD: spec <PodSpec>\n\n\nDESCRIPTION:\n    Specification of the desired behavior of the pod.'), 'the FIELD line');
  t.match(spec, /\n {4}PodSpec is a description of a pod\.\n {4}\nFIELDS:\n/, "the field's description, then its type's");
  t.equal(fieldLine(spec, 'containers'), '  containers\t<[]Container> -required-');
  t.equal(fieldLine(spec, 'nodeSelector'), '  nodeSelector\t<map[string]string>');
  t.equal(fieldLine(spec, 'overhead'), '  overhead\t<map[string]Quantity>');
  t.equal(fieldLine(spec, 'terminationGracePeriodSeconds'), '  terminationGracePeriodSeconds\t<integer>');
  t.equal(fieldLine(spec, 'hostNetwork'), '  hostNetwork\t<boolean>');
  t.equal(fieldLine(ex('deploy.spec.strategy.rollingUpdate'), 'maxSurge'), '  maxSurge\t<IntOrString>');
  t.equal(fieldLine(ex('pod.metadata'), 'creationTimestamp'), '  creationTimestamp\t<string>', 'Time is a string');
  t.match(ex('pod.spec.containers'), /^FIELD: containers <\[\]Container>$/m);
  t.match(ex('pod.spec.containers.image'), /^FIELD: image <string>$/m, 'paths go through lists');
  t.match(ex('pod.spec.nodeSelector'), /^FIELD: nodeSelector <map\[string\]string>$/m);
});

t.test('enums: all values under the FIELD line, the first four in field lists', async (t) => {
  t.ok(ex('pod.spec.restartPolicy').includes('FIELD: restartPolicy <string>\nENUM:\n    Always\n    Never\n    OnFailure\n\nDESCRIPTION:\n'));
  t.match(ex('pod.spec'), /\n {2}restartPolicy\t<string>\n {2}enum: Always, Never, OnFailure\n {4}Restart policy for all containers/);
  t.match(ex('pod.status'), /\n {2}phase\t<string>\n {2}enum: Failed, Pending, Running, Succeeded, \.\.\.\.\n/);
});

t.test('--recursive lists every level by name and type, two spaces deeper a level, without descriptions', async (t) => {
  t.equal(ex('deploy.spec.strategy', true), [
    'GROUP:      apps',
    'KIND:       Deployment',
    'VERSION:    v1',
    '',
    'FIELD: strategy <DeploymentStrategy>',
    '',
    '',
    'DESCRIPTION:',
    '    The deployment strategy to use to replace existing pods with new ones.',
    '    DeploymentStrategy describes how to replace existing pods with new ones.',
    '    ',
    'FIELDS:',
    '  rollingUpdate\t<RollingUpdateDeployment>',
    '    maxSurge\t<IntOrString>',
    '    maxUnavailable\t<IntOrString>',
    '  type\t<string>',
    '  enum: Recreate, RollingUpdate',
    '',
    '',
  ].join('\n'));
  t.match(ex('cronjob', true), /\n {2}spec\t<CronJobSpec>\n {4}concurrencyPolicy\t<string>\n {4}enum: Allow, Forbid, Replace\n/);
});

t.test('a field that does not exist is an error naming it', async (t) => {
  t.throws(() => ex('pod.spec.nope'), { message: 'field "nope" does not exist' });
  t.throws(() => ex('pod.nope.deeper'), { message: 'field "deeper" does not exist' }, 'kubectl names the last one');
  t.throws(() => ex('pod.spec.replicas'), /field "replicas" does not exist/);
});

t.test('every field of every kind pifleet serves resolves to a named type (nothing falls back to Object)', async (t) => {
  const loader = new SchemaLoader();
  for (const k of KINDS) {
    const text = explain(k, [], { recursive: true }, loader);
    t.notMatch(text, /<Object>/, k.kind);
    t.match(text, new RegExp(`KIND:       ${k.kind}\n`));
  }
});

t.test('descriptions come unescaped from the declarations: [*] and backslashes as the API has them', async (t) => {
  const text = ex('pod.spec.os');
  t.match(text, /spec\.containers\[\*\]\.securityContext/);
  t.notMatch(text, /\\\*/);
  t.match(ex('pod.spec.setHostnameAsFQDN'), /HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet/);
});

t.test('text wraps as go-wordwrap does: at spaces, long words kept whole, line breaks kept', async (t) => {
  t.equal(wrapText('aaa bbb ccc', 7), 'aaa bbb\nccc');
  t.equal(wrapText('a verylongword b', 5), 'a\nverylongword\nb');
  t.equal(wrapText('one\n\ntwo three', 5), 'one\n\ntwo\nthree');
  t.equal(wrapText('x  y', 10), 'x  y', 'runs of spaces inside a line stay');
  t.equal(wrapText('', 10), '');
});
