#!/usr/bin/env bash
# The project's test command (npm test). Two groups:
#   unit: test/**/*.test.ts except *.lab.test.ts, in parallel;
#   lab:  test/**/*.lab.test.ts (real Docker, network namespaces, fixed ports, daemons), serialized.
# PIFLEET_TEST_GROUPS=unit|lab|unit,lab (default both). Extra args are test files (any group).
# Ends with a plain "N passed, N failed" line counting the named tests of both groups.
set -uo pipefail
cd "$(dirname "$0")/.."

groups=${PIFLEET_TEST_GROUPS:-unit,lab}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

npm run --silent build || { echo "0 passed, 1 failed"; exit 1; }
npx tsc -p tsconfig.test.json || { echo "typecheck of tests failed"; echo "0 passed, 1 failed"; exit 1; }

rc=0
run_group() { # name jobs timeout coverage-flags files...
  local name=$1 jobs=$2 timeout=$3 cov=$4; shift 4
  (($#)) || return 0
  echo "== $name tests ($# files, jobs=$jobs)"
  # shellcheck disable=SC2086
  npx tap --jobs="$jobs" --timeout="$timeout" --reporter=tap --allow-empty-coverage $cov \
    "$@" | tee "$out/$name.tap"
  local r=${PIPESTATUS[0]}
  if ((r != 0)); then rc=1; fi
}

if (($#)); then
  unit=(); lab=()
  for f; do if [[ $f == *.lab.test.ts ]]; then lab+=("$f"); else unit+=("$f"); fi; done
else
  mapfile -t unit < <(find test -name '*.test.ts' ! -name '*.lab.test.ts' | sort)
  mapfile -t lab < <(find test -name '*.lab.test.ts' | sort)
fi
# Unit tests run the code in-process: their coverage has a floor. Lab tests run the daemon in
# child processes (network namespaces, real Docker), which in-process coverage cannot see, so
# their coverage is reported but has no floor (it only counts the few modules they import).
unit_cov="--statements=40 --branches=40 --functions=40 --lines=40"
lab_cov="--allow-incomplete-coverage"
if [[ ,$groups, == *,unit,* ]]; then run_group unit 2 120 "$unit_cov" "${unit[@]}"; fi
if [[ ,$groups, == *,lab,* ]]; then run_group lab 1 900 "$lab_cov" "${lab[@]}"; fi

# Count the named tests: the t.test() calls at the top level of each file (indent 4),
# and a file that failed without any named test as one failure.
node test/harness/count-tap.mjs "$out"/*.tap 2>/dev/null || { echo "0 passed, 1 failed"; exit 1; }
exit $rc
