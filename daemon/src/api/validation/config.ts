/**
 * Service, ConfigMap and Secret rules: ports and node ports, cluster IPs, config keys,
 * base64 data (never echoing a Secret's values), sizes and the keys each Secret type needs.
 */
import { reasons as R, type FieldPath } from '../errors.js';
import { dns1123Label, configKeyProblems } from '../names.js';
import { effectiveSecretData } from '../defaults.js';
import { arr, has, isInt, isObj, isStr, labelsMap, port, intOrPortName, MAX_DATA_BYTES, REDACTED, type Errs, type Obj } from './common.js';


function isIP(s: string): boolean {
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s)) return true;
  return s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s) && (s.match(/::/g) ?? []).length <= 1;
}

export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

export function serviceSpec(e: Errs, spec: unknown): void {
  if (!isObj(spec)) {
    if (spec === undefined || spec === null) e.add(['spec', 'ports'], R.required(), []);
    return;
  }
  const type = isStr(spec.type) ? spec.type : 'ClusterIP';
  if (type === 'ExternalName') {
    if (!isStr(spec.externalName) || spec.externalName === '') e.add(['spec', 'externalName'], R.required(), ['spec']);
  } else if (arr(spec.ports).length === 0 && spec.clusterIP !== 'None') {
    e.add(['spec', 'ports'], R.required(), spec.ports === undefined ? ['spec'] : undefined);
  }
  const ports = arr(spec.ports);
  const names = new Set<string>();
  const seen = new Set<string>();
  const nodePorts = new Set<number>();
  for (const [i, p] of ports.entries()) {
    if (!isObj(p)) continue;
    const pp: FieldPath = ['spec', 'ports', i];
    port(e, p.port, [...pp, 'port']);
    if (p.targetPort !== undefined && p.targetPort !== null && p.targetPort !== 0) intOrPortName(e, p.targetPort, [...pp, 'targetPort']);
    if (isStr(p.name) && p.name !== '') {
      for (const m of dns1123Label(p.name)) e.add([...pp, 'name'], R.invalid(p.name, m));
      if (names.has(p.name)) e.add([...pp, 'name'], R.duplicate(p.name));
      names.add(p.name);
    } else if (ports.length > 1 && (p.name === undefined || p.name === null || p.name === '')) {
      e.add([...pp, 'name'], R.required(), pp);
    }
    if (isInt(p.port)) {
      const key = JSON.stringify({ port: p.port, protocol: isStr(p.protocol) ? p.protocol : 'TCP' });
      if (seen.has(key)) e.add(pp, R.duplicate(JSON.parse(key)));
      seen.add(key);
    }
    if (isInt(p.nodePort) && p.nodePort !== 0) {
      if (type !== 'NodePort' && type !== 'LoadBalancer') e.add([...pp, 'nodePort'], R.forbidden(`may not be used when \`type\` is '${type}'`));
      else if (p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX) {
        e.add([...pp, 'nodePort'], R.invalid(p.nodePort, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`));
      } else if (nodePorts.has(p.nodePort)) e.add([...pp, 'nodePort'], R.duplicate(p.nodePort));
      nodePorts.add(p.nodePort);
    }
  }
  labelsMap(e, spec.selector, ['spec', 'selector']);
  const ip = spec.clusterIP;
  if (isStr(ip) && ip !== '') {
    if (ip === 'None') {
      if (type !== 'ClusterIP') e.add(['spec', 'clusterIP'], R.invalid(ip, `may not be set to 'None' for ${type} services`));
    } else if (!isIP(ip)) {
      e.add(['spec', 'clusterIP'], R.invalid(ip, "must be empty, 'None', or a valid IP address"));
    }
  }
}

/** Where base64 stops being valid (Go's StdEncoding, which skips CR and LF), or -1 if it is valid. */
export function base64Problem(s: string): number {
  const t = s.replace(/[\r\n]/g, '');
  for (let i = 0; i < t.length; i++) {
    const c = t[i] as string;
    if (c === '=') {
      const q = i % 4;
      if (q < 2 || t.slice(i) !== '='.repeat(4 - q)) return i;
      return -1;
    }
    if (!/[A-Za-z0-9+/]/.test(c)) return i;
  }
  return t.length % 4 === 0 ? -1 : t.length - (t.length % 4);
}

function configKeys(e: Errs, map: unknown, field: string): void {
  if (!isObj(map)) return;
  for (const k of Object.keys(map)) for (const m of configKeyProblems(k)) e.add([field, { key: k }], R.invalid(k, m));
}

export function configMap(e: Errs, o: Obj): void {
  configKeys(e, o.data, 'data');
  configKeys(e, o.binaryData, 'binaryData');
  let size = 0;
  const data = isObj(o.data) ? o.data : {};
  for (const [k, v] of Object.entries(data)) {
    size += Buffer.byteLength(k) + (isStr(v) ? Buffer.byteLength(v) : 0);
    if (isObj(o.binaryData) && k in o.binaryData) e.add(['data', { key: k }], R.invalid(k, 'duplicate of key present in binaryData'));
  }
  if (isObj(o.binaryData)) {
    for (const [k, v] of Object.entries(o.binaryData)) {
      if (!isStr(v)) continue;
      const bad = base64Problem(v);
      if (bad >= 0) e.add(['binaryData', { key: k }], R.invalid(v.length > 40 ? `${v.slice(0, 37)}...` : v, `illegal base64 data at input byte ${bad}`));
      size += Buffer.byteLength(k) + Math.floor((v.length * 3) / 4);
    }
  }
  if (size > MAX_DATA_BYTES) e.add(['data'], R.tooLong(MAX_DATA_BYTES));
}

const SECRET_TYPE_KEYS: Record<string, string[]> = {
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

export function secret(e: Errs, o: Obj): void {
  configKeys(e, o.data, 'data');
  configKeys(e, o.stringData, 'stringData');
  let base64Ok = true;
  if (isObj(o.data)) {
    for (const [k, v] of Object.entries(o.data)) {
      if (!isStr(v)) continue;
      const bad = base64Problem(v);
      if (bad >= 0) {
        base64Ok = false;
        e.add(['data', { key: k }], R.invalid(REDACTED, `illegal base64 data at input byte ${bad} (data values are base64; put plain text in stringData)`));
      }
    }
  }
  if (!base64Ok) return;
  let data: Record<string, string>;
  try {
    data = effectiveSecretData(o);
  } catch {
    return;
  }
  let size = 0;
  for (const [k, v] of Object.entries(data)) size += Buffer.byteLength(k) + Buffer.from(v, 'base64').length;
  if (size > MAX_DATA_BYTES) e.add(['data'], R.tooLong(MAX_DATA_BYTES));
  const type = isStr(o.type) && o.type !== '' ? o.type : 'Opaque';
  const at: FieldPath = has(o, 'data') ? ['data'] : has(o, 'stringData') ? ['stringData'] : ['type'];
  for (const k of SECRET_TYPE_KEYS[type] ?? []) if (!(k in data)) e.add(['data', { key: k }], R.required(`a Secret of type ${type} needs it`), at);
  if (type === 'kubernetes.io/basic-auth' && !('username' in data) && !('password' in data)) e.add(['data', { key: 'username' }], R.required(`a Secret of type ${type} needs a username or a password`), at);
  for (const k of ['.dockerconfigjson', '.dockercfg']) {
    if (SECRET_TYPE_KEYS[type]?.includes(k) && data[k] !== undefined) {
      try {
        JSON.parse(Buffer.from(data[k] as string, 'base64').toString('utf8'));
      } catch (err) {
        e.add(['data', { key: k }], R.invalid(REDACTED, `not valid JSON: ${(err as Error).message}`));
      }
    }
  }
  if (type === 'kubernetes.io/service-account-token') {
    const ann = isObj(o.metadata) && isObj(o.metadata.annotations) ? o.metadata.annotations : {};
    if (!isStr(ann['kubernetes.io/service-account.name'])) e.add(['metadata', 'annotations', { key: 'kubernetes.io/service-account.name' }], R.required(), ['metadata']);
  }
}
