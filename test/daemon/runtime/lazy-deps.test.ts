import t from 'tap';
import { createRequire } from 'node:module';

t.test('ssh2 is not loaded with dockerode, and its Client still works when first used', async (t) => {
  await import('../../../daemon/src/runtime/docker.js');
  const require = createRequire(import.meta.url);
  const modem = createRequire(createRequire(require.resolve('dockerode')).resolve('docker-modem'));
  const path = modem.resolve('ssh2');
  const standIn = require.cache[path];
  t.ok(standIn, 'a module sits in the cache under ssh2');
  t.equal(Object.keys(standIn!.exports as object).join(), 'Client', 'the stand-in only offers Client');
  const { Client } = standIn!.exports as { Client: new () => { connect: unknown; end: () => void } };
  const c = new Client();
  t.type(c.connect, 'function', 'constructing it gives a real ssh2 Client');
  t.not(require.cache[path], standIn, 'and the real ssh2 is loaded now');
  c.end();
});

t.test('gRPC and its protobuf loader wait for their first use (BuildKit sessions) and then work', async (t) => {
  await import('../../../daemon/src/runtime/docker.js');
  const require = createRequire(import.meta.url);
  const dockerode = createRequire(require.resolve('dockerode'));
  for (const name of ['@grpc/grpc-js', '@grpc/proto-loader']) {
    const path = dockerode.resolve(name);
    const standIn = require.cache[path];
    t.ok(standIn, `a stand-in sits in the cache under ${name}`);
    const before = standIn!.exports;
    const key = name === '@grpc/grpc-js' ? 'Server' : 'fromJSON';
    t.type((before as Record<string, unknown>)[key], 'function', `reading ${name}.${key} gives the real export`);
    t.not(require.cache[path], standIn, `${name} is really loaded now`);
  }
});
