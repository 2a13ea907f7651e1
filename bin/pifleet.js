#!/usr/bin/env node
// The pifleet command (CLI and `pifleet daemon`). Runs the compiled code in dist/.
let mod;
try {
  mod = await import('../dist/daemon/src/cli/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/daemon/src/cli/main.js')) {
    process.stderr.write('pifleet is not built yet: run `npm run build` (npm ci builds it too)\n');
    process.exit(1);
  }
  throw err;
}
const code = await mod.main(process.argv);
// Exit only once stdout and stderr have drained: process.exit() right away cuts piped output
// (a pipe takes 64 KiB, the rest would be lost), and open handles must not keep us alive.
process.exitCode = code;
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
