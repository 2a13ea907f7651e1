/**
 * A lab board running discovery plus a listening peer channel, as the daemon will (run inside a
 * lab node by discovery.lab.test.ts; the process knows the token, which must never reach mDNS):
 *   node --import tsx discovery-node.ts '{"cluster":"a","node":"n1","token":"...","txt":{...}}'
 * Prints JSON lines on stdout: ready {peerPort, address} | peer {peer} | peers {peers} | stopped.
 * Reads JSON commands on stdin: update {txt} | peers | stop.
 */
import { createInterface } from 'node:readline';
import { Discovery, type DiscoveredPeer } from '../../../../daemon/src/cluster/discovery.js';
import { PeerTransport } from '../../../../daemon/src/cluster/peer.js';
import { createSystemClock } from '../../../../daemon/src/lib/clock.js';
import { createLogger } from '../../../../daemon/src/lib/logger.js';
import { createRandom } from '../../../../daemon/src/lib/random.js';

interface Config { cluster: string; node: string; token: string; address?: string; version?: string; txt?: { fleet?: string; leader?: string } }

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config;
const out = (ev: string, o: Record<string, unknown> = {}): void => { process.stdout.write(`${JSON.stringify({ ev, t: Date.now(), ...o })}\n`); };
const logger = createLogger({ level: 'info', destination: process.stderr });
const clock = createSystemClock();
const address = cfg.address ?? process.env.LAB_IP ?? '';

const peer = await PeerTransport.listen({ self: cfg.node, cluster: cfg.cluster, token: cfg.token, host: '0.0.0.0', port: 0, logger, clock, random: createRandom() });
const d = Discovery.start({
  cluster: cfg.cluster, node: cfg.node, peerPort: peer.port, address, version: cfg.version ?? '0.1.0', logger, clock,
  ...(cfg.txt ? { txt: cfg.txt } : {}),
});
d.on('peer', (p: DiscoveredPeer) => out('peer', { peer: p }));

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let c: { cmd: string; txt?: { fleet?: string; leader?: string } };
  try { c = JSON.parse(line) as typeof c; } catch { return; }
  if (c.cmd === 'update') { d.update(c.txt ?? {}); out('updated'); }
  else if (c.cmd === 'peers') out('peers', { peers: d.peers() });
  else if (c.cmd === 'stop') {
    rl.close();
    void d.stop().then(() => peer.close()).then(() => { out('stopped'); process.exit(0); });
  }
});
out('ready', { peerPort: peer.port, address, pid: process.pid });
