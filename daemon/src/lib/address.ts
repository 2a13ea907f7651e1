import { networkInterfaces } from 'node:os';

const VIRTUAL = /^(lo|docker\d*|veth|br-|cni|flannel|virbr|tun|tap|pifleet)/;

/** The first IPv4 address that is not loopback or a virtual bridge (docker0, veth, br-, cni). */
export function primaryAddress(ifaces: NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]> = networkInterfaces()): string {
  for (const [name, addrs] of Object.entries(ifaces)) {
    if (VIRTUAL.test(name)) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
