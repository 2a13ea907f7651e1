#!/usr/bin/env node
// The pifleet command (CLI and `pifleet daemon`). Runs the compiled code in dist/.
let mod;
try {
  mod = await import('../dist/daemon/src/main.js');
} catch (err) {
  // only the entry itself missing means "not built" (a module it imports may be named as missing
  // with the entry as the importer: that is a broken build, shown as it is)
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find module '[^']*dist\/daemon\/src\/main\.js'/.test(String(err.message))) {
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
