/**
 * `pifleet completion bash|zsh`: a script to `source`. Verbs, subcommands, flags and the values
 * of enumerated flags come from the commander program itself (so the script always matches the
 * binary that printed it), kinds from api/kinds.ts, and object names from the fleet through
 * `pifleet get KIND -o name` when a daemon answers within a second or two (nothing otherwise).
 *
 * One completion core in the shell language bash and zsh share (positional parameters, `case`,
 * `local`; no arrays) turns the words and the index of the word under the cursor into candidates,
 * one a line (exit 2: complete file names instead); each shell's wrapper feeds it and offers them.
 */
import type { Command, Option } from 'commander';
import { KINDS } from '../api/kinds.js';

/** Flags whose value is a file or directory: the shell completes paths. */
const PATH_FLAGS = new Set(['--filename', '--token-file', '--state-dir', '--config']);
/** Verbs whose first argument is a kind (or KIND/NAME) and later ones names of that kind. */
const RESOURCE_VERBS = ['get', 'describe', 'delete', 'edit', 'label', 'annotate', 'patch', 'scale', 'wait'];

interface VerbInfo { name: string; subs: string[]; flags: string[]; valueFlags: string[]; values: Array<{ flags: string[]; choices: string[] }> }

function flagNames(o: Option): string[] {
  return [o.short, o.long].filter((f): f is string => Boolean(f));
}

/** Enumerated values: commander's choices, or a description that is only `a|b|c`. */
function choicesOf(o: Option): string[] {
  if (o.argChoices?.length) return o.argChoices;
  return /^[a-z-]+(\|[a-z-]+)+$/.test(o.description) ? o.description.split('|') : [];
}

function verbInfo(c: Command): VerbInfo {
  const options = [...c.options, ...c.commands.flatMap((s) => s.options)];
  const value = options.filter((o) => o.required);
  return {
    name: c.name(),
    subs: c.commands.map((s) => s.name()),
    flags: [...new Set(options.flatMap(flagNames))].sort(),
    valueFlags: [...new Set(value.flatMap(flagNames))].sort(),
    values: value.map((o) => ({ flags: flagNames(o), choices: choicesOf(o) })).filter((v) => v.choices.length),
  };
}

const words = (list: string[]): string => list.join(' ');
const caseArm = (pattern: string, body: string): string => `    ${pattern}) ${body} ;;`;

function core(program: Command): string {
  const verbs = program.commands.map(verbInfo);
  const globalValue = program.options.filter((o) => o.required).flatMap(flagNames);
  const globalFlags = [...program.options.flatMap(flagNames), '--help'];
  const kinds = KINDS.map((k) => k.plural);
  const withSubs = verbs.filter((v) => v.subs.length);
  const values: string[] = [];
  for (const v of verbs) for (const x of v.values) values.push(caseArm(x.flags.map((f) => `"${v.name} ${f}"`).join('|'), `printf '%s\\n' ${words(x.choices)}; return 0`));
  return `__pifleet_verbs() {
  printf '%s\\n' ${words(verbs.map((v) => v.name))}
}

__pifleet_has_subs() {
  case $1 in ${withSubs.map((v) => v.name).join('|')}) return 0 ;; esac
  return 1
}

__pifleet_subs() {
  case $1 in
${withSubs.map((v) => caseArm(v.name, `printf '%s\\n' ${words(v.subs)}`)).join('\n')}
  esac
}

__pifleet_flags() {
  case $1 in
${verbs.filter((v) => v.flags.length).map((v) => caseArm(v.name, `printf '%s\\n' ${words(v.flags)}`)).join('\n')}
  esac
  printf '%s\\n' ${words(globalFlags)}
}

# VERB FLAG: does the flag take the next word as its value?
__pifleet_takes_value() {
  case $2 in ${globalValue.join('|')}) return 0 ;; esac
  case $1 in
${verbs.filter((v) => v.valueFlags.length).map((v) => caseArm(v.name, `case $2 in ${v.valueFlags.join('|')}) return 0 ;; esac`)).join('\n')}
  esac
  return 1
}

__pifleet_kinds() {
  if [ "$1" = get ]; then printf '%s\\n' all; fi
  printf '%s\\n' ${words(kinds)}
}

# Object names of a kind from the fleet, with the connection flags given so far (the caller's
# locals ns, server, tokenfile, cluster, statedir and cmd); silent when no daemon answers quickly.
__pifleet_names() {
  set -- get "$1" -o name --request-timeout=1s
  if [ -n "$ns" ]; then set -- "$@" --namespace "$ns"; fi
  if [ -n "$server" ]; then set -- "$@" --server "$server"; fi
  if [ -n "$tokenfile" ]; then set -- "$@" --token-file "$tokenfile"; fi
  if [ -n "$cluster" ]; then set -- "$@" --cluster "$cluster"; fi
  if [ -n "$statedir" ]; then set -- "$@" --state-dir "$statedir"; fi
  if command -v timeout >/dev/null 2>&1; then
    timeout 3 "$cmd" "$@" 2>/dev/null
  else
    "$cmd" "$@" 2>/dev/null
  fi | while IFS= read -r __pifleet_line; do printf '%s\\n' "\${__pifleet_line#*/}"; done
}

# KIND/ prefix: names of that kind as KIND/NAME
__pifleet_typed_names() {
  __pifleet_names "$1" | while IFS= read -r __pifleet_line; do printf '%s/%s\\n' "$1" "$__pifleet_line"; done
}

# VERB FLAG: the values of a flag
__pifleet_values() {
  case $2 in
    -n|--namespace) __pifleet_names namespaces; return 0 ;;
    ${[...PATH_FLAGS].join('|')}) return 2 ;;
  esac
  case "$1 $2" in
    "apply -f"|"delete -f") return 2 ;;
${values.join('\n')}
  esac
  return 0
}

# CWORD WORD0 WORD1 ...: the candidates for word CWORD, one a line; exit 2: complete file names
__pifleet_complete() {
  local cword=$1 i=-1 w cmd= cur= prev= verb= sub= first= nargs=0 skip= ns= server= tokenfile= cluster= statedir=
  shift
  for w in "$@"; do
    i=$((i + 1))
    if [ "$i" -eq 0 ]; then cmd=$w; continue; fi
    if [ "$i" -eq "$cword" ]; then cur=$w; break; fi
    prev=$w
    if [ -n "$skip" ]; then
      case $skip in
        -n|--namespace) ns=$w ;;
        --server) server=$w ;;
        --token-file) tokenfile=$w ;;
        --cluster) cluster=$w ;;
        --state-dir) statedir=$w ;;
      esac
      skip=
      continue
    fi
    case $w in
      --) continue ;;
      --*=*)
        case \${w%%=*} in
          --namespace) ns=\${w#*=} ;;
          --server) server=\${w#*=} ;;
          --token-file) tokenfile=\${w#*=} ;;
          --cluster) cluster=\${w#*=} ;;
          --state-dir) statedir=\${w#*=} ;;
        esac
        continue ;;
      -*) if __pifleet_takes_value "$verb" "$w"; then skip=$w; fi; continue ;;
    esac
    if [ -z "$verb" ]; then verb=$w; continue; fi
    if [ -z "$sub" ] && __pifleet_has_subs "$verb"; then sub=$w; continue; fi
    if [ -z "$first" ]; then first=$w; fi
    nargs=$((nargs + 1))
  done
  if [ -n "$skip" ]; then __pifleet_values "$verb" "$prev"; return $?; fi
  case $cur in -*) __pifleet_flags "$verb"; return 0 ;; esac
  if [ -z "$verb" ]; then __pifleet_verbs; return 0; fi
  if __pifleet_has_subs "$verb" && [ -z "$sub" ]; then __pifleet_subs "$verb"; return 0; fi
  case $verb in
    ${RESOURCE_VERBS.join('|')})
      if [ -z "$first" ]; then
        case $cur in
          */*) __pifleet_typed_names "\${cur%%/*}" ;;
          *) __pifleet_kinds "$verb" ;;
        esac
      else
        case $first in
          */*) __pifleet_typed_names "\${first%%/*}" ;;
          *) __pifleet_names "$first" ;;
        esac
      fi ;;
    logs|exec)
      if [ "$nargs" -eq 0 ]; then
        case $cur in
          */*) __pifleet_typed_names "\${cur%%/*}" ;;
          *) __pifleet_names pods ;;
        esac
      fi ;;
    explain) if [ "$nargs" -eq 0 ]; then __pifleet_kinds explain; fi ;;
    rollout)
      case $cur in
        */*) __pifleet_typed_names "\${cur%%/*}" ;;
        *) printf '%s\\n' deployment/ daemonset/ ;;
      esac ;;
    cordon|uncordon|drain) if [ "$nargs" -eq 0 ]; then __pifleet_names nodes; fi ;;
    node) if [ "$sub" = remove ] && [ "$nargs" -eq 0 ]; then __pifleet_names nodes; fi ;;
    cronjob) if [ "$nargs" -eq 0 ]; then __pifleet_names cronjobs; fi ;;
  esac
  return 0
}
`;
}

const BASH = `
_pifleet() {
  local cur words cword out rc
  if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
    _get_comp_words_by_ref -n =: cur words cword
  else
    cur=\${COMP_WORDS[COMP_CWORD]}
    words=("\${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi
  out=$(__pifleet_complete "$cword" "\${words[@]}")
  rc=$?
  local IFS=$'\\n'
  if [ "$rc" -eq 2 ]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    compopt -o filenames 2>/dev/null
    return 0
  fi
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
  if [ "\${#COMPREPLY[@]}" -eq 1 ]; then
    case \${COMPREPLY[0]} in */) compopt -o nospace 2>/dev/null ;; esac
  fi
  return 0
}

complete -F _pifleet pifleet
`;

const ZSH = `
_pifleet() {
  local out rc
  local -a cands slash
  out=$(__pifleet_complete $((CURRENT - 1)) "\${words[@]}")
  rc=$?
  if [ "$rc" -eq 2 ]; then _files; return; fi
  cands=(\${(f)out})
  slash=(\${(M)cands:#*/})
  cands=(\${cands:#*/})
  (( \${#cands} )) && compadd -- "\${cands[@]}"
  (( \${#slash} )) && compadd -S '' -- "\${slash[@]}"
  return 0
}

if [ "$funcstack[1]" = "_pifleet" ]; then
  _pifleet "$@"
else
  compdef _pifleet pifleet
fi
`;

export function completionScript(shell: 'bash' | 'zsh', program: Command): string {
  const head = shell === 'bash'
    ? '# bash completion for pifleet\n# Load it now:      source <(pifleet completion bash)\n# or for good:      pifleet completion bash | sudo tee /etc/bash_completion.d/pifleet >/dev/null\n#                   (or save it as ~/.local/share/bash-completion/completions/pifleet)\n'
    : '#compdef pifleet\n# zsh completion for pifleet\n# Load it now:      source <(pifleet completion zsh)     (after compinit)\n# or for good:      pifleet completion zsh > "${fpath[1]}/_pifleet"\n';
  return `${head}\n${core(program)}${shell === 'bash' ? BASH : ZSH}`;
}
