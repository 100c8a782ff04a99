import {
  EVENT_CATALOG, REDACTED, isSecretField, type Changes, type EventActor, type EventData, type EventType, type ResourceRef,
  type TypedEvent,
} from "@galaxy/contracts";
import { traceIdOf } from "@galaxy/observability";
import type { JsonValue } from "../chain/canonical-json";
import type { AuditActor, AuditChanges, AuditEntryDraft } from "../chain/chain";
import { UnauditableEventError } from "../errors";

/** What the entry of an event is built from: the event and the headers it travelled with. */
export interface AuditSource {
  event: TypedEvent;
  headers: { traceparent: string | undefined; clientIp: string | undefined; userAgent: string | undefined };
}

/**
 * The chain entry an event becomes, before it has a place in the chain. Everything comes
 * from the event and its headers, so replaying the event builds the same entry:
 * - `action` is the event type, resource and changes are read through the event catalog;
 * - secret fields in `changes` are replaced by `[redacted]` (the one list in contracts);
 * - strings that Postgres or RFC 8785 cannot carry (NUL, lone UTF-16 surrogates) get
 *   U+FFFD in their place, and `undefined` properties are dropped, so every entry can be
 *   stored and hashed;
 * - an `operator` actor is recorded as a `service` actor (the chain knows three types).
 *
 * Changing any of these rules changes the hashes of rebuilt entries: treat them as frozen.
 *
 * @throws {UnauditableEventError} `changes` holds something that is not JSON
 */
export function buildEntryDraft(source: AuditSource): AuditEntryDraft {
  const { event, headers } = source;
  const view = auditView(event.type, event.data);
  const traceId = headers.traceparent ? traceIdOf(headers.traceparent) : null;
  return {
    id: event.id,
    workspaceId: event.workspaceId,
    actor: auditActor(event.actor),
    action: event.type,
    resourceType: storable(view.resource.type),
    // The chain hashes resourceId as a string; no catalog entry yields a null id today.
    resourceId: storable(view.resource.id ?? ""),
    changes: view.changes && auditChanges(view.changes),
    ipAddress: headers.clientIp === undefined ? null : storable(headers.clientIp),
    userAgent: headers.userAgent === undefined ? null : storable(headers.userAgent),
    // An all-zero trace id is W3C's "invalid": it names no trace.
    traceId: traceId === null || /^0+$/.test(traceId) ? null : traceId,
    occurredAt: event.occurredAt,
  };
}

function auditActor(actor: EventActor): AuditActor {
  const id = storable(actor.id);
  switch (actor.type) {
    case "user":
    case "api_key":
    case "service":
      return { type: actor.type, id };
    case "operator":
      return { type: "service", id };
    default: {
      const exhaustive: never = actor.type;
      return exhaustive;
    }
  }
}

function auditChanges(changes: Changes): AuditChanges {
  return { before: auditJson(changes.before), after: auditJson(changes.after) };
}

/**
 * A JSON copy of `value` that can be hashed and stored as is: secret fields redacted,
 * strings made storable, `undefined` properties left out (`undefined` elsewhere is null,
 * as JSON.stringify writes it). Object copies are built with `Object.fromEntries`, so a
 * `__proto__` key stays an ordinary key.
 *
 * @throws {UnauditableEventError} a value that is not JSON (a function, a Date, a Map, …)
 */
export function auditJson(value: unknown, path = "$"): JsonValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new UnauditableEventError(`${String(value)} at ${path} has no JSON form`);
      return value;
    case "string":
      return storable(value);
    case "object": {
      if (Array.isArray(value)) {
        const items: readonly unknown[] = value;
        return items.map((item, i) => auditJson(item, `${path}[${i}]`));
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new UnauditableEventError(`the value at ${path} is not a plain JSON object`);
      const record = value as Record<string, unknown>;
      const copied: Array<[string, JsonValue]> = [];
      for (const key of Object.keys(record)) {
        const child = record[key];
        if (child !== undefined) copied.push([storable(key), isSecretField(key) ? REDACTED : auditJson(child, `${path}.${key}`)]);
      }
      return Object.fromEntries(copied);
    }
    default:
      throw new UnauditableEventError(`a ${typeof value} at ${path} is not JSON`);
  }
}

// NUL cannot be stored in Postgres text or jsonb; a lone surrogate has no UTF-8 form and
// canonical JSON refuses it. With the u flag, \p{Cs} matches only unpaired surrogates.
const UNSTORABLE = /[\u0000\p{Cs}]/gu;

function storable(text: string): string {
  return text.replace(UNSTORABLE, "\uFFFD");
}

type AuditViews = {
  [K in EventType]: { resource: (data: EventData<K>) => ResourceRef; changes: (data: EventData<K>) => Changes | null };
};

// The catalog typed as a mapped type, so that indexing it with the event's own type gives
// the functions for that type's data (TypeScript cannot correlate the union otherwise).
const AUDIT_VIEWS: AuditViews = EVENT_CATALOG;

function auditView<K extends EventType>(type: K, data: EventData<K>): { resource: ResourceRef; changes: Changes | null } {
  const view = AUDIT_VIEWS[type];
  return { resource: view.resource(data), changes: view.changes(data) };
}
