/**
 * dockerode loads, at start-up, libraries for transports pifleet does not use on a local socket:
 * ssh2 (for ssh:// Docker hosts; it builds a 16 MB WebAssembly heap the moment it loads) and
 * gRPC with its protobuf loader (for BuildKit sessions). Together they are a sixth of the
 * daemon's memory on a Pi. This module, imported before dockerode, puts stand-ins for them in
 * the CommonJS cache that load the real library on first use, so those features still work and
 * nobody else pays for them.
 */
import { createRequire, Module } from 'node:module';

type Exports = Record<string | symbol, unknown>;

/** Replace the module at `path` by a stand-in built from a loader of the real one. */
function defer(require: NodeJS.Require, path: string, standIn: (load: () => Exports) => Exports): void {
  const cache = require.cache;
  if (cache[path]) return; // already loaded by someone: too late, and harmless
  let real: Exports | undefined;
  const load = (): Exports => {
    if (!real) {
      delete cache[path];
      real = require(path) as Exports;
    }
    return real;
  };
  const m = new Module(path) as Module & { loaded: boolean };
  m.filename = path;
  m.loaded = true;
  m.exports = standIn(load);
  cache[path] = m;
}

/** A module whose properties are only read inside functions: load it on the first read. */
const onFirstRead = (load: () => Exports): Exports => new Proxy({}, {
  get: (_t, key) => load()[key],
  has: (_t, key) => key in load(),
});

/** ssh2: docker-modem reads `.Client` when it loads, so the stand-in is a Client that loads ssh2 when constructed. */
const lazyClient = (load: () => Exports): Exports => {
  function Client(this: unknown, ...args: unknown[]): unknown {
    return new (load().Client as new (...a: unknown[]) => unknown)(...args);
  }
  return { Client };
};

function install(): void {
  const require = createRequire(import.meta.url);
  let dockerode: NodeJS.Require;
  try {
    dockerode = createRequire(require.resolve('dockerode'));
  } catch {
    return;
  }
  const tryDefer = (from: NodeJS.Require, name: string, standIn: (load: () => Exports) => Exports): void => {
    let path: string;
    try { path = from.resolve(name); } catch { return; } // not in this layout: nothing to defer
    defer(require, path, standIn);
  };
  try {
    tryDefer(createRequire(dockerode.resolve('docker-modem')), 'ssh2', lazyClient);
  } catch { /* no docker-modem: nothing to defer */ }
  tryDefer(dockerode, '@grpc/grpc-js', onFirstRead);
  tryDefer(dockerode, '@grpc/proto-loader', onFirstRead);
}

install();
