/**
 * `pifleet edit KIND NAME`, as kubectl edit does it (pkg/cmd/util/editor/editoptions.go): the
 * object as the server has it (status and server-set metadata included) goes into a temporary
 * file under a header comment; the editor ($PIFLEET_EDITOR, $EDITOR, $VISUAL, else vi) opens it;
 * on save the difference from what was shown is sent as a JSON merge patch (the `patch` op, so
 * fields changed meanwhile by others are kept). A file saved unchanged cancels; an invalid one is
 * reopened with the problems as comments at the top, until it is saved valid, saved with the
 * same failing content again, or MAX_EDIT_ROUNDS attempts have failed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { KObject } from '../api/types.js';
import type { KindInfo } from '../api/kinds.js';
import { loadManifests } from '../api/load.js';
import { ApiCallError, CliError } from './client.js';
import { err, getOne, globals, ns, out, withClient } from './common.js';
import { parseResourceArgs, pluralName, refName } from './resources.js';
import { toJson, toYamlText } from './print/get.js';

/** Saves that may fail in a row before edit gives up (the file is kept). */
export const MAX_EDIT_ROUNDS = 5;

const HEADER = [
  "# Please edit the object below. Lines beginning with a '#' will be ignored,",
  '# and an empty file will abort the edit. If an error occurs while saving this file will be',
  '# reopened with the relevant failures.',
  '#',
];

interface Reason { head: string; items: string[] }

export interface EditOptions {
  info: KindInfo;
  name: string;
  namespace: string;
  format: 'yaml' | 'json';
  /** The object as the server has it now. */
  get(): Promise<KObject>;
  /** Send a JSON merge patch; rejects with ApiCallError when the server refuses it. */
  patch(patch: Record<string, unknown>): Promise<unknown>;
  env: Record<string, string | undefined>;
  /** Where the temporary file goes (default: the system's temp directory). */
  tmpDir?: string;
  stdout(s: string): void;
  stderr(s: string): void;
  maxRounds?: number;
}

/** How kubectl starts an editor: a bare command, words split at spaces, or the shell for anything quoted. */
export function editorCommand(env: Record<string, string | undefined>, file: string): { command: string; args: string[]; editor: string } {
  const editor = [env.PIFLEET_EDITOR, env.EDITOR, env.VISUAL].find((v) => v && v.trim()) ?? 'vi';
  if (!editor.includes(' ')) return { command: editor, args: [file], editor };
  if (!/["'\\]/.test(editor)) {
    const [command, ...args] = editor.split(' ').filter(Boolean) as [string, ...string[]];
    return { command, args: [...args, file], editor };
  }
  const quoted = `'${file.replace(/'/g, `'\\''`)}'`;
  return { command: env.SHELL || '/bin/sh', args: ['-c', `${editor} ${quoted}`], editor };
}

/** Run the editor on the file with the terminal; Ctrl-C goes to the editor, not to us. */
async function launch(env: Record<string, string | undefined>, file: string): Promise<void> {
  const { command, args, editor } = editorCommand(env, file);
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command, args, { stdio: 'inherit', env: env as NodeJS.ProcessEnv });
      child.once('error', (e) => reject(new CliError(`error: unable to launch the editor "${editor}": ${e.message} (set EDITOR to the editor to use)`)));
      child.once('exit', (code, signal) => {
        if (code === 0) resolve();
        else reject(new CliError(`error: there was a problem with the editor "${editor}" (${signal ? `killed by ${signal}` : `exit code ${code}`})`));
      });
    });
  } finally {
    process.off('SIGINT', ignore);
  }
}

/** kubectl's ManualStrip: the file without its comment lines (a `#!` line is not a comment). */
export function stripCommentLines(text: string): string {
  return text.split('\n').filter((l) => !(l.trim().startsWith('#') && !l.trim().startsWith('#!'))).join('\n');
}

/** Do two saves say the same? Compared as parsed documents (comments and layout aside) when both parse. */
function sameContent(a: string, b: string): boolean {
  try {
    return isDeepStrictEqual(parseYaml(a, { version: '1.1' }), parseYaml(b, { version: '1.1' }));
  } catch {
    return stripCommentLines(a) === stripCommentLines(b);
  }
}

function header(reasons: Reason[]): string {
  const hash = (s: string): string => s.replace(/\n(?!#)/g, '\n# ');
  const lines = [...HEADER];
  for (const r of reasons) {
    lines.push(`# ${hash(r.head)}${r.items.length ? ':' : ''}`);
    for (const i of r.items) lines.push(`# * ${hash(i)}`);
    lines.push('#');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * RFC 7386 in reverse: the merge patch that turns `from` into `to` (removed keys -> null, lists
 * and scalars replaced whole), as kubectl's jsonpatch.CreateMergePatch computes it.
 */
export function createMergePatch(from: Record<string, unknown>, to: Record<string, unknown>): Record<string, unknown> {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to) || to[k] === undefined) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    const was = from[k];
    if (isMap(was) && isMap(v)) {
      const sub = createMergePatch(was, v);
      if (Object.keys(sub).length) patch[k] = sub;
    } else if (!isDeepStrictEqual(was, v)) {
      patch[k] = structuredClone(v);
    }
  }
  return patch;
}

/** The edit session; returns the exit code. */
export async function runEdit(o: EditOptions): Promise<number> {
  const resource = pluralName(o.info.kind, o.name);
  const ref = refName(o.info.kind, o.name);
  const maxRounds = o.maxRounds ?? MAX_EDIT_ROUNDS;
  const original = await o.get();
  const body = o.format === 'json' ? `${toJson(original)}\n` : toYamlText(original);
  const dir = mkdtempSync(join(o.tmpDir ?? tmpdir(), 'pifleet-edit-'));
  const file = join(dir, `${o.info.singular}-${o.name.replace(/[^A-Za-z0-9._-]/g, '_')}.${o.format}`);
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  const kept = (): void => o.stderr(`A copy of your changes has been stored to "${file}"\n`);
  let reasons: Reason[] = [];
  let failing: string | undefined; // the last save that failed
  for (let round = 1; ; round++) {
    const content = failing === undefined ? body : `${stripCommentLines(failing).replace(/^\n+/, '')}`;
    writeFileSync(file, (o.format === 'yaml' ? header(reasons) : '') + content, { mode: 0o600 });
    try {
      await launch(o.env, file);
    } catch (e) {
      if (failing === undefined) cleanup(); else kept();
      throw e;
    }
    const edited = readFileSync(file, 'utf8');
    if (failing !== undefined && sameContent(failing, edited)) {
      kept();
      o.stderr('error: Edit cancelled, no valid changes were saved.\n');
      return 1;
    }
    if (sameContent(body, edited)) {
      cleanup();
      o.stderr('Edit cancelled, no changes made.\n');
      return 0;
    }
    if (!edited.split('\n').some((l) => l.trim() && !l.trim().startsWith('#'))) {
      cleanup();
      o.stderr('Edit cancelled, saved file was empty.\n');
      return 0;
    }
    failing = edited;
    const parsed = loadManifests(edited, file);
    const problems = parsed.errors;
    if (!problems.length && parsed.objects.length !== 1) {
      reasons = [{ head: `The edited file must hold exactly the one object being edited (it holds ${parsed.objects.length})`, items: [] }];
    } else if (problems.length && problems.every((p) => !p.path)) {
      reasons = [{ head: `The edited file had a syntax error: line ${problems[0]!.line}, column ${problems[0]!.col}: ${problems[0]!.reason}`, items: [] }];
    } else if (problems.length) {
      o.stderr(`error: ${resource} is invalid\n`);
      reasons = [{ head: `${resource} was not valid`, items: problems.map((p) => (p.path ? `${p.path}: ${p.reason}` : p.reason)) }];
    } else {
      const next = parsed.objects[0]!;
      if (next.apiVersion !== original.apiVersion || next.kind !== original.kind || next.metadata?.name !== original.metadata.name) {
        kept();
        o.stderr('error: At least one of apiVersion, kind and name was changed\n');
        return 1;
      }
      const namespace = original.metadata.namespace ?? o.namespace;
      if (o.info.namespaced && next.metadata.namespace && next.metadata.namespace !== namespace) {
        kept();
        o.stderr(`error: the namespace from the provided object "${next.metadata.namespace}" does not match the namespace "${namespace}". You must pass '--namespace=${next.metadata.namespace}' to perform this operation.\n`);
        return 1;
      }
      // a namespace left out means the one edited (kubectl's RequireNamespace)
      if (o.info.namespaced) next.metadata.namespace = namespace;
      // status is the system's: the server ignores it in a patch, so it is not sent
      const { status: _was, ...from } = original as KObject & { status?: unknown };
      const { status: _now, ...to } = next as KObject & { status?: unknown };
      const patch = createMergePatch(from as Record<string, unknown>, to as Record<string, unknown>);
      if (Object.keys(patch).length === 0) {
        cleanup();
        o.stdout(`${ref} skipped\n`);
        return 0;
      }
      try {
        await o.patch(patch);
        cleanup();
        o.stdout(`${ref} edited\n`);
        return 0;
      } catch (e) {
        if (!(e instanceof ApiCallError)) { kept(); throw e; }
        if (e.body.reason === 'NotFound') {
          o.stderr(`error: ${resource} could not be found on the server\n`);
          o.stderr(`The edits you made on deleted resources have been saved to "${file}"\n`);
          return 1;
        }
        if (e.body.reason !== 'Invalid') {
          o.stderr(`error: ${resource} could not be patched: ${e.body.message}\n`);
          o.stderr(`You can run \`pifleet apply -f ${file}\` to try this update again.\n`);
          return 1;
        }
        o.stderr(`error: ${resource} is invalid\n`);
        reasons = [{ head: `${resource} was not valid`, items: e.body.details?.length ? e.body.details : [e.body.message] }];
      }
    }
    if (round >= maxRounds) {
      kept();
      o.stderr(`error: the edit still fails after ${maxRounds} attempts; giving up\n`);
      return 1;
    }
  }
}

export function registerEditCommand(program: Command): void {
  program.command('edit')
    .description('edit a resource in your editor ($PIFLEET_EDITOR, $EDITOR, $VISUAL or vi); saved changes are applied')
    .argument('<resource...>', 'TYPE NAME or TYPE/NAME')
    .addOption(new Option('-o, --output <format>', 'the format to edit in').choices(['yaml', 'json']).default('yaml'))
    .action(async (args: string[], o: { output: 'yaml' | 'json' }, cmd: Command) => {
      const wanted = parseResourceArgs(args);
      const one = wanted.length === 1 && wanted[0]!.names.length === 1 ? wanted[0]! : undefined;
      if (!one) throw new CliError('error: edit one object at a time: pifleet edit TYPE NAME (or TYPE/NAME)');
      const info = one.info;
      const name = one.names[0]!;
      const g = globals(cmd);
      process.exitCode = await runEdit({
        info, name, namespace: ns(g), format: o.output, env: process.env,
        get: () => withClient(cmd, (c) => getOne(c, info, name, g)),
        patch: (patch) => withClient(cmd, (c) => c.request('patch', { kind: info.kind, namespace: ns(g), name, patch, patchType: 'merge' })),
        stdout: out, stderr: err,
      });
    });
}
