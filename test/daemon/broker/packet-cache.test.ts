import t from 'tap';
import { createRequire } from 'node:module';
import { disableMqttNumberCache } from '../../../daemon/src/broker/packet-cache.js';

t.test('turns off the mqtt-packet number cache that mqtt.js and aedes share', async (t) => {
  const require = createRequire(import.meta.url);
  const packet = createRequire(require.resolve('mqtt'))('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } };
  t.equal(packet.writeToStream.cacheNumbers, true, 'on by default');
  t.equal(disableMqttNumberCache(), 1, 'one shared copy');
  t.equal(packet.writeToStream.cacheNumbers, false);
  const fromAedes = createRequire(require.resolve('aedes'))('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } };
  t.equal(fromAedes.writeToStream.cacheNumbers, false, 'the copy aedes loads is the same');
});
