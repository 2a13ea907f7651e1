/**
 * dockerode's docker-modem loads ssh2 at start-up for ssh:// Docker hosts, and ssh2 builds a
 * 16 MB WebAssembly heap (poly1305) the moment it loads: a sixth of the daemon's memory on a Pi
 * for a transport pifleet does not use on a local socket. This module, imported before dockerode,
 * puts a stand-in for ssh2 in the CommonJS cache whose Client loads the real ssh2 when first
 * constructed, so ssh:// hosts still work and nobody else pays for them.
 */
import { createRequire, Module } from 'node:module';

type SshModule = { Client: new (...args: unknown[]) => unknown };

function install(): void {
  const require = createRequire(import.meta.url);
  let ssh2Path: string;
  try {
    const modem = createRequire(createRequire(require.resolve('dockerode')).resolve('docker-modem'));
    ssh2Path = modem.resolve('ssh2');
  } catch {
    return; // a layout without ssh2: nothing to defer
  }
  const cache = require.cache;
  if (cache[ssh2Path]) return; // already loaded by someone: too late, and harmless
  let real: SshModule | undefined;
  const load = (): SshModule => {
    if (!real) {
      delete cache[ssh2Path];
      real = require(ssh2Path) as SshModule;
    }
    return real;
  };
  function LazyClient(this: unknown, ...args: unknown[]): unknown {
    return new (load().Client)(...args);
  }
  const stand = new Module(ssh2Path) as Module & { loaded: boolean };
  stand.filename = ssh2Path;
  stand.loaded = true;
  stand.exports = { Client: LazyClient };
  cache[ssh2Path] = stand;
}

install();
