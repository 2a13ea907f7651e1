// Reads TAP streams written by tap --reporter=tap and prints "N passed, N failed".
// A named test is an `ok`/`not ok` line at indent 4 (a t.test at the top of a file);
// a file that fails with no named test inside counts as one failure.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  let text;
  try { text = readFileSync(file, 'utf8'); } catch { continue; }
  let namedInFile = 0;
  for (const line of text.split('\n')) {
    const named = /^ {4}(not )?ok \d+ - /.exec(line);
    if (named) {
      namedInFile++;
      if (named[1]) failed++; else if (!/# SKIP/.test(line)) passed++;
      continue;
    }
    const top = /^(not )?ok \d+ - /.exec(line);
    if (top) {
      if (top[1] && namedInFile === 0) failed++;
      namedInFile = 0;
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
