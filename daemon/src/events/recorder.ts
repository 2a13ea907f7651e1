/**
 * Events, as Kubernetes has them: what happened to which object, why, from whom.
 * Components record through an EventRecorder; the daemon's recorder publishes each event on
 * pifleet/<cluster>/events, and the leader keeps recent ones in memory (never on disk),
 * aggregating repeats into a count as Kubernetes does.
 */
import type { Event, KObject } from '../api/types.js';
import { rfc3339 } from '../lib/time.js';

export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  apiVersion?: string;
  fieldPath?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(obj: ObjectRef | KObject, type: EventType, reason: string, message: string): void;
}

export function refOf(obj: ObjectRef | KObject): ObjectRef {
  if ('metadata' in obj && obj.metadata && typeof obj.metadata === 'object') {
    const o = obj as KObject;
    return {
      kind: o.kind,
      apiVersion: o.apiVersion,
      name: o.metadata.name,
      ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
      ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
    };
  }
  return obj as ObjectRef;
}

/** Build an Event object (name like Kubernetes: <object>.<hex time>). */
export function buildEvent(ref: ObjectRef, type: EventType, reason: string, message: string, source: { component: string; host?: string }, now: number, uniq: string): Event {
  const ts = rfc3339(now);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${ref.name}.${now.toString(16)}${uniq}`, namespace: ref.namespace ?? 'default', creationTimestamp: ts },
    involvedObject: {
      kind: ref.kind, name: ref.name,
      ...(ref.namespace ? { namespace: ref.namespace } : {}),
      ...(ref.uid ? { uid: ref.uid } : {}),
      ...(ref.apiVersion ? { apiVersion: ref.apiVersion } : {}),
      ...(ref.fieldPath ? { fieldPath: ref.fieldPath } : {}),
    },
    type,
    reason,
    message,
    source: { component: source.component, ...(source.host ? { host: source.host } : {}) },
    firstTimestamp: ts,
    lastTimestamp: ts,
    count: 1,
  };
}

/** A recorder that keeps events in an array, for tests of pure components. */
export function createMemoryRecorder(): EventRecorder & { events: Array<{ ref: ObjectRef; type: EventType; reason: string; message: string }> } {
  const events: Array<{ ref: ObjectRef; type: EventType; reason: string; message: string }> = [];
  return {
    events,
    record(obj, type, reason, message) {
      events.push({ ref: refOf(obj), type, reason, message });
    },
  };
}
