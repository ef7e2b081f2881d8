/**
 * One collection of one workspace, as listed now, against its last snapshot: the entity change
 * events (create, update, delete; by `id`, an update when the entity's content changed, which
 * covers `updated_at`) and the part to snapshot next.
 */
import { createHash } from 'node:crypto';
import type { KongEntity } from '../../kong-admin/client.ts';
import { KONG_ADMIN_SOURCE } from '../../event/kong-event.ts';
import { maskSecrets } from './secret-mask.ts';
import type { EntityRecord, SnapshotPart } from './snapshot-store.ts';

export type Operation = 'create' | 'update' | 'delete';

/** Where the entities live: the workspace's id (null on Kong OSS, which does not tell it) and name. */
export interface WorkspaceRef {
  readonly id: string | null;
  readonly name: string;
}

/** One entity change event, as it is sent (JSON). */
export interface EntityChange {
  readonly source: typeof KONG_ADMIN_SOURCE;
  readonly entity: string;
  readonly operation: Operation;
  readonly workspace: string | null;
  readonly workspace_name: string;
  readonly id: string;
  readonly entity_name: string | null;
  readonly old: unknown;
  readonly new: unknown;
  /** When the relay saw the change (ISO 8601, UTC). */
  readonly at: string;
}

export interface DiffResult {
  readonly changes: EntityChange[];
  readonly part: SnapshotPart;
}

/**
 * `old`: the snapshot part, or null when it has none; `emitCreates`: false to record a baseline
 * silently (first start, a collection newly watched). For the `workspaces` collection, `ws` is
 * taken from each entity itself.
 */
export function diffCollection(
  entity: string,
  ws: WorkspaceRef,
  listed: readonly KongEntity[],
  old: SnapshotPart | null,
  emitCreates: boolean,
  at: string,
): DiffResult {
  const part: Record<string, EntityRecord> = Object.create(null) as Record<string, EntityRecord>;
  const changes: EntityChange[] = [];
  const change = (operation: Operation, id: string, before: unknown, after: unknown): void => {
    const body = (after ?? before) as Record<string, unknown>;
    const where = entity === 'workspaces' ? { id, name: String(body.name ?? id) } : ws;
    changes.push({
      source: KONG_ADMIN_SOURCE,
      entity,
      operation,
      workspace: where.id,
      workspace_name: where.name,
      id,
      entity_name: entityName(body),
      old: before,
      new: after,
      at,
    });
  };
  for (const e of listed) {
    const id = e.id as string;
    const record: EntityRecord = { h: hashOf(e), body: maskSecrets(e) };
    part[id] = record;
    const before = old === null ? undefined : old[id];
    if (before === undefined) {
      if (emitCreates) change('create', id, null, record.body);
    } else if (before.h !== record.h) change('update', id, before.body, record.body);
  }
  if (old !== null)
    for (const [id, before] of Object.entries(old)) if (!(id in part)) change('delete', id, before.body, null);
  return { changes, part };
}

/** The delete events of every entity of a part (its workspace is gone). */
export function deleteAll(entity: string, ws: WorkspaceRef, old: SnapshotPart, at: string): EntityChange[] {
  return diffCollection(entity, ws, [], old, false, at).changes;
}

/** What people call the entity: name, username, custom_id or instance_name; null when it has none. */
function entityName(body: Record<string, unknown> | null): string | null {
  if (body === null) return null;
  for (const k of ['name', 'username', 'custom_id', 'instance_name'] as const)
    if (typeof body[k] === 'string' && body[k] !== '') return body[k] as string;
  return null;
}

function hashOf(e: KongEntity): string {
  return createHash('sha256').update(canonicalJson(e)).digest('base64url');
}

/** JSON with object keys sorted (Kong's key order is not stable). */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
