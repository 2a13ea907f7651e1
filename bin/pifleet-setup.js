#!/usr/bin/env node
// pifleet-setup: fleet plan -> Raspberry Pi boot files. Runs the compiled code in dist/.
let mod;
try {
  mod = await import('../dist/firmware-setup/src/cli.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/firmware-setup/src/cli.js')) {
    process.stderr.write('pifleet-setup is not built yet: run `npm run build` (npm ci builds it too)\n');
    process.exit(1);
  }
  throw err;
}
process.exit(await mod.main(process.argv));
