/**
 * `pifleet edit`: the editor is a small shell script (EDITOR) that records what it was shown and
 * changes the file as each test says; the API is a fake that records the patches it gets.
 */
import t, { type Test } from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { KObject } from '../../../daemon/src/api/types.js';
import { kindOrThrow } from '../../../daemon/src/cli/resources.js';
import { ApiCallError } from '../../../daemon/src/cli/client.js';
import { createMergePatch, editorCommand, runEdit, stripCommentLines, type EditOptions } from '../../../daemon/src/cli/edit.js';
import { scriptEditor } from './editor.js';

const HEADER = [
  "# Please edit the object below. Lines beginning with a '#' will be ignored,",
  '# and an empty file will abort the edit. If an error occurs while saving this file will be',
  '# reopened with the relevant failures.',
  '#',
].join('\n');

const deployment = (): KObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: {
    name: 'web', namespace: 'default', uid: '6f1c', resourceVersion: '42', generation: 3, creationTimestamp: '2026-05-01T10:00:00Z',
    labels: { app: 'web' }, annotations: { 'deployment.kubernetes.io/revision': '2' },
  },
  spec: {
    replicas: 1, selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] } },
  },
  status: { replicas: 1, readyReplicas: 1, observedGeneration: 3 },
} as KObject);

interface Session {
  code: number;
  stdout: string;
  stderr: string;
  patches: Array<Record<string, unknown>>;
  /** What the editor was shown, per round. */
  seen: string[];
  tmp: string;
}

/**
 * Run an edit whose editor applies `actions[n]` (shell, `$1` is the file) in round n+1 (the last
 * action repeats); `refuse` answers the patches (undefined: accept).
 */
async function edit(t: Test, actions: string[], refuse: (patch: Record<string, unknown>, n: number) => Error | undefined = () => undefined, extra: Partial<EditOptions> = {}): Promise<Session> {
  const ed = scriptEditor(t, actions);
  const s: Session = { code: -1, stdout: '', stderr: '', patches: [], seen: [], tmp: ed.tmp };
  s.code = await runEdit({
    info: kindOrThrow('deployments'), name: 'web', namespace: 'default', format: 'yaml',
    get: async () => deployment(),
    patch: async (p) => {
      s.patches.push(p);
      const e = refuse(p, s.patches.length);
      if (e) throw e;
      return {};
    },
    env: { PATH: process.env.PATH, EDITOR: ed.env.EDITOR, EDIT_STATE: ed.env.EDIT_STATE },
    tmpDir: ed.tmp,
    stdout: (x) => { s.stdout += x; },
    stderr: (x) => { s.stderr += x; },
    ...extra,
  });
  s.seen = ed.seen();
  return s;
}

const invalid = (details: string[]): ApiCallError => new ApiCallError({ reason: 'Invalid', message: 'Deployment "web" is invalid', details });
const leftovers = (s: Session): string[] => readdirSync(s.tmp);

t.test('edit shows the object as the server has it under the header and sends only what changed as a merge patch', async (t) => {
  const s = await edit(t, ['sed -i "s/^  replicas: 1$/  replicas: 3/; s/app: web$/app: web2/" "$1"']);
  t.equal(s.code, 0, s.stderr);
  t.equal(s.stdout, 'deployment.apps/web edited\n');
  t.equal(s.stderr, '');
  t.ok(s.seen[0]!.startsWith(`${HEADER}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n`), s.seen[0]);
  const shown = parseYaml(s.seen[0]!) as KObject;
  t.same(shown, deployment(), 'server-set fields (uid, resourceVersion, generation, status) are shown');
  t.match(s.seen[0], /creationTimestamp: "2026-05-01T10:00:00Z"/, 'as get -o yaml prints them');
  t.same(s.patches, [{ metadata: { labels: { app: 'web2' } }, spec: { replicas: 3, selector: { matchLabels: { app: 'web2' } }, template: { metadata: { labels: { app: 'web2' } } } } }]);
  t.same(leftovers(s), [], 'the temporary file is removed');
});

t.test('a file saved unchanged cancels the edit and sends nothing', async (t) => {
  const s = await edit(t, [':']);
  t.equal(s.code, 0);
  t.equal(s.stderr, 'Edit cancelled, no changes made.\n');
  t.equal(s.stdout, '');
  t.same(s.patches, []);
  t.same(leftovers(s), []);
});

t.test('changes to comments or layout only are no changes either', async (t) => {
  const s = await edit(t, ['sed -i "s/^# Please.*/# changed comment/; s/^  replicas: 1$/  replicas:   1/" "$1"; printf "\\n\\n# more\\n" >> "$1"']);
  t.equal(s.stderr, 'Edit cancelled, no changes made.\n');
  t.same(s.patches, []);
});

t.test('an emptied file cancels the edit', async (t) => {
  const s = await edit(t, ['printf "# nothing left\\n\\n" > "$1"']);
  t.equal(s.code, 0);
  t.equal(s.stderr, 'Edit cancelled, saved file was empty.\n');
  t.same(s.patches, []);
});

const IMAGE_DETAIL = 'spec.template.spec.containers[0].image: Invalid value: "nginx:1.26": not in the registry mirror';
const refuseImage = (image: string) => (p: Record<string, unknown>): Error | undefined => (JSON.stringify(p).includes(`"image":"${image}"`) ? invalid([IMAGE_DETAIL]) : undefined);
const setImage = (to: string): string => `sed -i "s/image: nginx:.*/image: ${to}/" "$1"`;

t.test('a change the server refuses reopens the file with the errors as a comment block at the top; the fixed save is applied', async (t) => {
  const s = await edit(t, [setImage('nginx:1.26'), setImage('nginx:1.27')], refuseImage('nginx:1.26'));
  t.equal(s.code, 0, s.stderr);
  t.equal(s.seen.length, 2);
  t.ok(s.seen[1]!.startsWith(`${HEADER}\n# deployments.apps "web" was not valid:\n# * ${IMAGE_DETAIL}\n#\napiVersion: apps/v1\n`), s.seen[1]);
  t.match(s.seen[1], /image: nginx:1\.26$/m, 'the reopened file keeps the failing edit');
  t.equal(s.seen[1]!.split('\n').filter((l) => l.startsWith('# Please edit')).length, 1, 'one header, not the old one again');
  t.equal(s.stderr, 'error: deployments.apps "web" is invalid\n');
  t.equal(s.stdout, 'deployment.apps/web edited\n');
  const image = (p: Record<string, unknown>): unknown => (p as { spec: { template: { spec: { containers: Array<{ image: string }> } } } }).spec.template.spec.containers[0]!.image;
  t.same(s.patches.map(image), ['nginx:1.26', 'nginx:1.27']);
  t.same(leftovers(s), []);
});

t.test('saving the same failing content again gives up and keeps the file', async (t) => {
  const s = await edit(t, [setImage('nginx:1.26'), ':'], refuseImage('nginx:1.26'));
  t.equal(s.code, 1);
  t.equal(s.patches.length, 1, 'the unchanged second save is not sent');
  t.match(s.stderr, /A copy of your changes has been stored to "(.+)"\nerror: Edit cancelled, no valid changes were saved\.\n$/);
  const kept = /stored to "(.+)"/.exec(s.stderr)?.[1] ?? '';
  t.match(readFileSync(kept, 'utf8'), /image: nginx:1\.26/, 'the kept file holds the edit');
});

t.test('edit gives up after a bounded number of failing saves', async (t) => {
  const s = await edit(t, ['n=$(cat "$EDIT_STATE/count"); sed -i "s/image: nginx:.*/image: nginx:9.$n/" "$1"'], () => invalid([IMAGE_DETAIL]), { maxRounds: 3 });
  t.equal(s.code, 1);
  t.equal(s.patches.length, 3);
  t.equal(s.seen.length, 3);
  t.match(s.stderr, /error: the edit still fails after 3 attempts; giving up\n$/);
  t.match(s.stderr, /A copy of your changes has been stored to/);
});

t.test('a syntax error or a value validation refuses reopens the file with the problem, without asking the server', async (t) => {
  const s = await edit(t, [
    'printf "spec: [\\n" >> "$1"',
    'sed -i "/^spec: \\[$/d; s/^  replicas: 1$/  replicas: -1/" "$1"',
    'sed -i "s/^  replicas: -1$/  replicas: 4/" "$1"',
  ]);
  t.equal(s.code, 0, s.stderr);
  t.match(s.seen[1], /^# The edited file had a syntax error: line \d+, column \d+: invalid YAML/m);
  t.match(s.seen[2], /^# deployments\.apps "web" was not valid:\n# \* spec\.replicas: Invalid value: -1: must be greater than or equal to 0\n#$/m);
  t.same(s.patches, [{ spec: { replicas: 4 } }], 'only the valid save reached the server');
});

t.test('changing the name, kind or namespace is refused and the edit kept', async (t) => {
  const renamed = await edit(t, ['sed -i "s/^  name: web$/  name: web2/" "$1"']);
  t.equal(renamed.code, 1);
  t.match(renamed.stderr, /A copy of your changes has been stored to ".+"\nerror: At least one of apiVersion, kind and name was changed\n/);
  const moved = await edit(t, ['sed -i "s/^  namespace: default$/  namespace: prod/" "$1"']);
  t.equal(moved.code, 1);
  t.match(moved.stderr, /does not match the namespace "default"/);
  t.same([...renamed.patches, ...moved.patches], []);
});

t.test('a status-only change is skipped: status is the system\'s', async (t) => {
  const s = await edit(t, ['sed -i "s/^  readyReplicas: 1$/  readyReplicas: 5/" "$1"']);
  t.equal(s.code, 0);
  t.equal(s.stdout, 'deployment.apps/web skipped\n');
  t.same(s.patches, []);
});

t.test('an object deleted meanwhile, or another refusal, ends the edit with the file kept and what to do', async (t) => {
  const gone = await edit(t, ['sed -i "s/^  replicas: 1$/  replicas: 3/" "$1"'], () => new ApiCallError({ reason: 'NotFound', message: 'deployments "web" not found' }));
  t.equal(gone.code, 1);
  t.match(gone.stderr, /error: deployments.apps "web" could not be found on the server\nThe edits you made on deleted resources have been saved to ".+"/);
  const conflict = await edit(t, ['sed -i "s/^  replicas: 1$/  replicas: 3/" "$1"'], () => new ApiCallError({ reason: 'Conflict', message: 'the object has been modified' }));
  t.equal(conflict.code, 1);
  t.match(conflict.stderr, /could not be patched: the object has been modified\nYou can run `pifleet apply -f .+` to try this update again\./);
});

t.test('an editor that exits non-zero is reported and nothing is sent', async (t) => {
  await t.rejects(edit(t, ['exit 3']), /there was a problem with the editor ".*editor\.sh" \(exit code 3\)/);
  await t.rejects(edit(t, [':'], undefined, { env: { PATH: process.env.PATH, EDITOR: '/nonexistent/editor' } }), /unable to launch the editor "\/nonexistent\/editor"/);
});

t.test('the editor is $PIFLEET_EDITOR, $EDITOR, $VISUAL, else vi; words are split, quoting goes to the shell', async (t) => {
  t.same(editorCommand({}, '/t/f.yaml'), { command: 'vi', args: ['/t/f.yaml'], editor: 'vi' });
  t.equal(editorCommand({ VISUAL: 'nano' }, 'f').command, 'nano');
  t.equal(editorCommand({ VISUAL: 'nano', EDITOR: 'vim' }, 'f').command, 'vim');
  t.equal(editorCommand({ VISUAL: 'nano', EDITOR: 'vim', PIFLEET_EDITOR: 'ed' }, 'f').command, 'ed');
  t.same(editorCommand({ EDITOR: 'code --wait' }, 'f'), { command: 'code', args: ['--wait', 'f'], editor: 'code --wait' });
  t.same(editorCommand({ EDITOR: 'emacs -nw "+1"', SHELL: '/bin/bash' }, "/t/it's.yaml"), { command: '/bin/bash', args: ['-c', `emacs -nw "+1" '/t/it'\\''s.yaml'`], editor: 'emacs -nw "+1"' });
});

t.test('the merge patch sets what changed, nulls what was removed and replaces lists whole', async (t) => {
  t.same(createMergePatch(
    { a: 1, b: { c: 2, d: 3 }, e: [1, 2], f: 'x', g: { h: 1 } },
    { a: 1, b: { c: 2, d: 4, n: true }, e: [1], g: { h: 1 } },
  ), { b: { d: 4, n: true }, e: [1], f: null });
  t.same(createMergePatch({ a: { b: 1 } }, { a: 'scalar' }), { a: 'scalar' });
  t.same(createMergePatch({ a: 1 }, { a: 1 }), {});
});

t.test('comment lines are stripped as kubectl strips them (a #! line stays)', async (t) => {
  t.equal(stripCommentLines('# a\nkey: v\n  # b\n#!/bin/sh\n'), 'key: v\n#!/bin/sh\n');
});
