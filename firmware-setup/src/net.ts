/**
 * IPv4 and MAC arithmetic for the fleet plan: parsing, subnet membership, ranges.
 * Pure functions, no I/O. Addresses are handled as unsigned 32-bit integers.
 */

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export interface Subnet {
  /** Network address as an integer. */
  network: number;
  prefix: number;
  /** The netmask as an integer. */
  mask: number;
  /** The broadcast address as an integer. */
  broadcast: number;
}

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

/** 10.0.0.1 -> integer; undefined when not a dotted-quad IPv4 address. */
export function parseIPv4(s: string): number | undefined {
  if (!IPV4.test(s)) return undefined;
  return s.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/**
 * '10.0.0.0/24' -> Subnet. Returns a reason string when the text is not a CIDR block
 * or has host bits set (10.0.0.1/24 is an address, not a subnet).
 */
export function parseCidr(s: string): Subnet | string {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m) return 'must be a CIDR block such as 10.0.0.0/24';
  const addr = parseIPv4(m[1] as string);
  const prefix = Number(m[2]);
  if (addr === undefined) return `'${m[1]}' is not an IPv4 address`;
  if (prefix < 8 || prefix > 30) return 'prefix length must be between 8 and 30';
  const mask = prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1));
  const network = addr - (addr % 2 ** (32 - prefix));
  if (network !== addr) return `host bits are set: did you mean ${formatIPv4(network)}/${prefix}?`;
  return { network, prefix, mask, broadcast: network + 2 ** (32 - prefix) - 1 };
}

/** True when addr is a usable host address of the subnet (not the network or broadcast address). */
export function isHostIn(subnet: Subnet, addr: number): boolean {
  return addr > subnet.network && addr < subnet.broadcast;
}

export function formatCidr(subnet: Subnet): string {
  return `${formatIPv4(subnet.network)}/${subnet.prefix}`;
}

export function netmaskOf(subnet: Subnet): string {
  return formatIPv4(subnet.mask);
}

export function isMac(s: string): boolean {
  return MAC.test(s);
}

/** Lower-case colon form, the way dnsmasq and `ip link` print it. */
export function normalizeMac(s: string): string {
  return s.toLowerCase();
}

/** A unicast MAC has the multicast bit (lowest bit of the first octet) clear. */
export function isUnicastMac(s: string): boolean {
  return (parseInt(s.slice(0, 2), 16) & 1) === 0;
}
