/**
 * The pages of ConfigMaps, Secrets (sizes only, never values) and Namespaces, and the generic
 * page of any other kind (its fields as YAML).
 */
import { stringify as toYaml } from 'yaml';
import type { ConfigMap, KObject, Namespace, Secret } from '../../../api/types.js';
import { rfc1123z } from '../duration.js';
import { annotationsMultiline, describeEvents, labelsMultiline, Page, writeEvents, type DescribeContext } from './common.js';

export function describeConfigMap(cm: ConfigMap, c: DescribeContext): string {
  const p = new Page();
  p.w(0, `Name:\t${cm.metadata.name}\n`);
  p.w(0, `Namespace:\t${cm.metadata.namespace ?? ''}\n`);
  labelsMultiline(p, 'Labels', cm.metadata.labels);
  annotationsMultiline(p, 'Annotations', cm.metadata.annotations);
  p.w(0, '\nData\n====\n');
  for (const k of Object.keys(cm.data ?? {}).sort()) p.w(0, `${k}:\n----\n${cm.data![k]}\n`);
  p.w(0, '\nBinaryData\n====\n');
  for (const k of Object.keys(cm.binaryData ?? {}).sort()) p.w(0, `${k}: ${Buffer.from(cm.binaryData![k]!, 'base64').length} bytes\n`);
  p.w(0, '\n');
  writeEvents(p, c.events, c.now);
  return p.done();
}

/** Secret values are never printed: only their sizes. */
export function describeSecret(s: Secret): string {
  const p = new Page();
  p.w(0, `Name:\t${s.metadata.name}\n`);
  p.w(0, `Namespace:\t${s.metadata.namespace ?? ''}\n`);
  labelsMultiline(p, 'Labels', s.metadata.labels);
  annotationsMultiline(p, 'Annotations', s.metadata.annotations);
  p.w(0, `\nType:\t${s.type ?? 'Opaque'}\n`);
  p.w(0, '\nData\n====\n');
  const sizes = new Map<string, number>();
  for (const [k, v] of Object.entries(s.data ?? {})) sizes.set(k, Buffer.from(v, 'base64').length);
  for (const [k, v] of Object.entries(s.stringData ?? {})) sizes.set(k, Buffer.byteLength(v, 'utf8'));
  for (const k of [...sizes.keys()].sort()) p.w(0, `${k}:\t${sizes.get(k)} bytes\n`);
  return p.done();
}

export function describeNamespace(ns: Namespace): string {
  const p = new Page();
  p.w(0, `Name:\t${ns.metadata.name}\n`);
  labelsMultiline(p, 'Labels', ns.metadata.labels);
  annotationsMultiline(p, 'Annotations', ns.metadata.annotations);
  p.w(0, `Status:\t${ns.status?.phase ?? (ns.metadata.deletionTimestamp ? 'Terminating' : 'Active')}\n`);
  if (ns.status?.conditions?.length) {
    p.w(0, 'Conditions:\n');
    p.w(1, 'Type\tStatus\tLastTransitionTime\tReason\tMessage\n');
    p.w(1, '----\t------\t------------------\t------\t-------\n');
    for (const x of ns.status.conditions) p.w(1, `${x.type}\t${x.status}\t${rfc1123z(x.lastTransitionTime as string | undefined)}\t${x.reason ?? ''}\t${x.message ?? ''}\n`);
  }
  p.w(0, '\nNo resource quota.\n');
  p.w(0, '\nNo LimitRange resource.\n');
  return p.done();
}

export function describeGeneric(obj: KObject, c: DescribeContext): string {
  const p = new Page();
  p.w(0, `Name:\t${obj.metadata.name}\n`);
  if (obj.metadata.namespace) p.w(0, `Namespace:\t${obj.metadata.namespace}\n`);
  labelsMultiline(p, 'Labels', obj.metadata.labels);
  annotationsMultiline(p, 'Annotations', obj.metadata.annotations);
  p.w(0, `API Version:\t${obj.apiVersion}\n`);
  p.w(0, `Kind:\t${obj.kind}\n`);
  p.flush();
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!['apiVersion', 'kind', 'metadata'].includes(k)) rest[k] = v;
  const body = Object.keys(rest).length ? toYaml(rest, { indentSeq: false, lineWidth: 0 }) : '';
  const out = p.done() + body;
  return out + describeEvents(c.events, c.now);
}
