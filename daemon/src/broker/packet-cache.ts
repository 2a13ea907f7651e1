/**
 * mqtt-packet (used by both mqtt.js and aedes) pre-builds a Buffer for every 16-bit number on
 * its first write: 65 536 Buffers, about 22 MB of a Pi's memory for a few nanoseconds per
 * packet. The daemon turns that cache off; packets are then encoded with small fresh buffers.
 */
import { createRequire } from 'node:module';

interface PacketWriter { cacheNumbers: boolean }

/** Turn off the number cache in every mqtt-packet copy that mqtt.js and aedes load. Returns how many copies. */
export function disableMqttNumberCache(): number {
  const require = createRequire(import.meta.url);
  const seen = new Set<PacketWriter>();
  for (const owner of ['mqtt', 'aedes']) {
    try {
      const fromOwner = createRequire(require.resolve(owner));
      const packet = fromOwner('mqtt-packet') as { writeToStream?: PacketWriter };
      if (packet.writeToStream && !seen.has(packet.writeToStream)) {
        packet.writeToStream.cacheNumbers = false;
        seen.add(packet.writeToStream);
      }
    } catch {
      // a layout without mqtt-packet: nothing to tune
    }
  }
  return seen.size;
}
