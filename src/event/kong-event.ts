/**
 * One Kong log entry. It keeps the original JSON bytes (what sinks send) as a byte string
 * (see byte-string.ts) and gives typed, lazily decoded access to the few fields that routing
 * and templates need: the decoder scans the entry once (validating it) and records where those
 * fields are, without building the object.
 */
import { textOf, type ByteString } from './byte-string.ts';
import { FieldPlan, JsonSyntaxError, decodeString, decodeValue, scanObject, type JsonPath } from './json-scan.ts';

/**
 * Where an entry names its workspace, most telling first (Kong 3.x, Enterprise, 2.x): a name is
 * taken as it is, an id is mapped to a name through `workspaces:`.
 */
export const WORKSPACE_SOURCES: readonly { readonly path: JsonPath; readonly kind: 'name' | 'id' }[] = [
  { path: ['workspace_name'], kind: 'name' },
  { path: ['workspace'], kind: 'id' },
  { path: ['workspaces', 0, 'name'], kind: 'name' },
  { path: ['workspaces', 0, 'id'], kind: 'id' },
  { path: ['route', 'ws_id'], kind: 'id' },
  { path: ['service', 'ws_id'], kind: 'id' },
  { path: ['consumer', 'ws_id'], kind: 'id' },
];

/** Fields every decoder extracts; slots are the indices into the scan spans (see Slot). */
const BASE_PATHS: readonly JsonPath[] = [
  ['request', 'method'],
  ['request', 'uri'],
  ['upstream_uri'],
  ['response', 'status'],
  ['request', 'headers', 'host'],
  ['request', 'url'],
  ...WORKSPACE_SOURCES.map((w) => w.path),
  ['route', 'id'],
  ['route', 'name'],
  ['service', 'id'],
  ['service', 'name'],
  ['consumer', 'id'],
  ['consumer', 'username'],
  ['consumer', 'custom_id'],
  ['request', 'id'],
  ['source'],
  ['entity'],
  ['operation'],
];

const enum Slot {
  Method,
  Uri,
  UpstreamUri,
  Status,
  HostHeader,
  Url,
  // WORKSPACE_SOURCES, in order:
  WorkspaceName,
  WorkspaceId,
  WorkspacesName,
  WorkspacesId,
  RouteWsId,
  ServiceWsId,
  ConsumerWsId,
  RouteId,
  RouteName,
  ServiceId,
  ServiceName,
  ConsumerId,
  ConsumerUsername,
  ConsumerCustomId,
  RequestId,
  Source,
  Entity,
  Operation,
}

/** The decoder slots of WORKSPACE_SOURCES, in BASE_PATHS from Slot.WorkspaceName on. */
const WORKSPACE_SLOTS = WORKSPACE_SOURCES.map((_, i) => Slot.WorkspaceName + i);
const NOT_DECODED: unique symbol = Symbol('not decoded');
/** The `source` of entity change events (see src/sources/kong-admin/). */
export const KONG_ADMIN_SOURCE = 'kong_admin';

/** Workspace id → name: the `workspaces:` section, and names learnt from the Kong Admin API. */
export interface WorkspaceLookup {
  get(id: string): string | undefined;
}

export interface DecoderOptions {
  /** Workspace id → name. */
  readonly workspaceNames?: WorkspaceLookup;
  /** Request header names (lowercase) that rules look at. */
  readonly headers?: readonly string[];
  /** Further JSON paths that templates read. */
  readonly paths?: readonly JsonPath[];
}

/** Turns entries (byte strings) into events; build once per config. */
export class EventDecoder {
  readonly #plan: FieldPlan;
  /** Where scans write their spans (scans are synchronous: one is enough). */
  readonly #scratch: Int32Array;
  readonly #slotsByKey: Map<string, number>;
  readonly #headerSlots: Map<string, number>;
  readonly #workspaceNames: WorkspaceLookup;

  constructor(options: DecoderOptions = {}) {
    const paths: JsonPath[] = [...BASE_PATHS];
    const slotsByKey = new Map<string, number>(paths.map((p, i) => [pathKey(p), i]));
    const addPath = (p: JsonPath): number => {
      const key = pathKey(p);
      let slot = slotsByKey.get(key);
      if (slot === undefined) {
        slot = paths.length;
        paths.push(p);
        slotsByKey.set(key, slot);
      }
      return slot;
    };
    this.#headerSlots = new Map(
      (options.headers ?? []).map((h) => [h.toLowerCase(), addPath(['request', 'headers', h.toLowerCase()])]),
    );
    for (const p of options.paths ?? []) addPath(p);
    this.#plan = new FieldPlan(paths, { bytes: true });
    this.#scratch = this.#plan.newSpans();
    this.#slotsByKey = slotsByKey;
    this.#workspaceNames = options.workspaceNames ?? new Map();
  }

  /**
   * Decode one entry given as a byte string (byteStringOf / byteStringOfUtf8); one that is not a
   * JSON object gives a JsonSyntaxError (never throws), with a byte offset as its position.
   */
  decode(raw: ByteString): KongEvent | JsonSyntaxError {
    const scratch = this.#scratch;
    const error = scanObject(raw, this.#plan, scratch);
    if (error !== null) return error;
    // Copied into a plain array: a typed array this size (over 64 bytes) gets an off-heap backing
    // store of its own, allocated and later freed for every event, about 3x the cost of the copy.
    const spans = new Array<number>(scratch.length);
    for (let i = 0; i < scratch.length; i++) spans[i] = scratch[i];
    return new KongEvent(raw, spans, this);
  }

  /** The fields this decoder extracts (scanArrayOfObjectsUtf8 takes it to decode a whole array at once). */
  get plan(): FieldPlan {
    return this.#plan;
  }

  /**
   * An event from spans already found by a scan with `plan` (from scanArrayOfObjectsUtf8):
   * spans[at .. at + 2 * plan.size) must be offsets into the byte string `raw`.
   */
  decodeScanned(raw: ByteString, spans: Int32Array, at: number): KongEvent {
    const width = this.#scratch.length;
    const own = new Array<number>(width);
    for (let i = 0; i < width; i++) own[i] = spans[at + i];
    return new KongEvent(raw, own, this);
  }

  /** @internal */ slotOf(path: JsonPath): number | undefined {
    return this.#slotsByKey.get(pathKey(path));
  }
  /** @internal */ headerSlot(name: string): number | undefined {
    return this.#headerSlots.get(name);
  }
  /** Workspace id → name. */
  get workspaceNames(): WorkspaceLookup {
    return this.#workspaceNames;
  }
}

function pathKey(path: JsonPath): string {
  return path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');
}

/**
 * The fields of an entry that rules read (what `route/` depends on). KongEvent reads them from
 * its scan; the test suite has a second implementation over JSON.parse to check it against.
 */
export interface EventFields {
  readonly isHttp: boolean;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly upstreamPath: string | undefined;
  readonly status: number | undefined;
  readonly host: string | undefined;
  header(name: string): string[] | undefined;
  readonly workspace: string | null;
  readonly routeId: string | undefined;
  readonly routeName: string | undefined;
  readonly serviceId: string | undefined;
  readonly serviceName: string | undefined;
  readonly consumerId: string | undefined;
  readonly consumerUsername: string | undefined;
  readonly consumerCustomId: string | undefined;
  /** Entity change events (`"source":"kong_admin"`): the Admin API collection; undefined for log entries. */
  readonly entity: string | undefined;
  /** Entity change events: create, update or delete; undefined for log entries. */
  readonly operation: string | undefined;
}

export class KongEvent implements EventFields {
  /**
   * The entry's bytes exactly as Kong wrote them, as a byte string (one character per byte):
   * sinks send this; its length is the entry's size in bytes.
   */
  readonly raw: ByteString;
  /** [start, end) of each decoder slot's value in raw, -1 when absent. */
  readonly #spans: readonly number[];
  readonly #decoder: EventDecoder;
  #values: unknown[] | undefined;
  #workspace: string | null | typeof NOT_DECODED = NOT_DECODED;
  #lineBreak: boolean | undefined;

  /** @internal use EventDecoder.decode */
  constructor(raw: ByteString, spans: readonly number[], decoder: EventDecoder) {
    this.raw = raw;
    this.#spans = spans;
    this.#decoder = decoder;
  }

  /** The entry's text (decoded from raw on each call: for SNS messages, dead letters and tools). */
  get text(): string {
    return textOf(this.raw);
  }

  /** Whether the entry holds a raw line break (in valid JSON only as whitespace between tokens); found once. */
  get hasLineBreak(): boolean {
    this.#lineBreak ??= this.raw.includes('\n') || this.raw.includes('\r');
    return this.#lineBreak;
  }

  #value(slot: number): unknown {
    const start = this.#spans[slot * 2];
    if (start < 0) return undefined;
    const values = (this.#values ??= []);
    let v = values[slot];
    if (v === undefined) {
      v = decodeValue(this.raw, start, this.#spans[slot * 2 + 1], true);
      values[slot] = v;
    }
    return v;
  }

  #string(slot: number): string | undefined {
    const start = this.#spans[slot * 2];
    return start < 0 ? undefined : decodeString(this.raw, start, this.#spans[slot * 2 + 1], true);
  }

  /** Whether `decoder` made this event (after a config reload, events decoded before it are decoded again). */
  decodedBy(decoder: EventDecoder): boolean {
    return this.#decoder === decoder;
  }

  /** The value at a JSON path registered with the decoder (templates); undefined when absent or not registered. */
  valueAt(path: JsonPath): unknown {
    const slot = this.#decoder.slotOf(path);
    return slot === undefined ? undefined : this.#value(slot);
  }

  /** HTTP entries have a request; stream (TCP/UDP) entries do not. */
  get isHttp(): boolean {
    return this.#spans[Slot.Method * 2] >= 0 || this.#spans[Slot.Uri * 2] >= 0;
  }

  get method(): string | undefined {
    return this.#string(Slot.Method);
  }

  /** request.uri without the query string: the raw path as the client sent it. */
  get path(): string | undefined {
    return requestPath(this.#string(Slot.Uri));
  }

  get upstreamPath(): string | undefined {
    return requestPath(this.#string(Slot.UpstreamUri));
  }

  get status(): number | undefined {
    return statusCode(this.#value(Slot.Status));
  }

  get host(): string | undefined {
    return hostOf(this.#value(Slot.HostHeader), this.#string(Slot.Url));
  }

  /** Values of a request header registered with the decoder (rules' `headers:`), lowercase name. */
  header(name: string): string[] | undefined {
    const slot = this.#decoder.headerSlot(name);
    return slot === undefined ? undefined : headerValues(this.#value(slot));
  }

  /** The workspace's name (see workspaceOf); null when the entry names none. */
  get workspace(): string | null {
    if (this.#workspace !== NOT_DECODED) return this.#workspace;
    let found: string | null = null;
    for (let i = 0; i < WORKSPACE_SLOTS.length && found === null; i++) {
      found = workspaceOf(WORKSPACE_SOURCES[i].kind, this.#string(WORKSPACE_SLOTS[i]), this.#decoder.workspaceNames);
    }
    this.#workspace = found;
    return found;
  }

  get routeId(): string | undefined {
    return this.#string(Slot.RouteId);
  }
  get routeName(): string | undefined {
    return this.#string(Slot.RouteName);
  }
  get serviceId(): string | undefined {
    return this.#string(Slot.ServiceId);
  }
  get serviceName(): string | undefined {
    return this.#string(Slot.ServiceName);
  }
  get consumerId(): string | undefined {
    return this.#string(Slot.ConsumerId);
  }
  get consumerUsername(): string | undefined {
    return this.#string(Slot.ConsumerUsername);
  }
  get consumerCustomId(): string | undefined {
    return this.#string(Slot.ConsumerCustomId);
  }
  get entity(): string | undefined {
    return this.#fromKongAdmin ? this.#string(Slot.Entity) : undefined;
  }
  get operation(): string | undefined {
    return this.#fromKongAdmin ? this.#string(Slot.Operation) : undefined;
  }
  /** An entity change event of a kong_admin source (Kong's own `source` is "upstream", "exit" or "error"). */
  get #fromKongAdmin(): boolean {
    return this.#string(Slot.Source) === KONG_ADMIN_SOURCE;
  }
  /** request.id (Kong 3.5+). */
  get requestId(): string | undefined {
    return this.#string(Slot.RequestId);
  }

  /** The whole entry as an object (full parse: only for transforms and tools, never the hot path). */
  parse(): unknown {
    return JSON.parse(this.text);
  }
}

// What a field means, from its decoded value: one definition for KongEvent and for the
// full-parse implementation the tests check it against.

/** A URI without its query string (the raw path as the client sent it). */
export function requestPath(uri: string | undefined): string | undefined {
  if (uri === undefined) return undefined;
  const q = uri.indexOf('?');
  return q < 0 ? uri : uri.slice(0, q);
}

/** response.status: a number, or a string of three digits. */
export function statusCode(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d{3}$/.test(v)) return Number(v);
  return undefined;
}

/** The Host header without the port (first value when repeated), else the host of request.url. */
export function hostOf(hostHeader: unknown, url: string | undefined): string | undefined {
  const header = firstString(hostHeader);
  if (header !== undefined) return stripPort(header);
  if (url === undefined) return undefined;
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url);
  return m === null ? undefined : stripPort(m[1].replace(/^.*@/, ''));
}

/** A request header's values: a string, the strings of an array, or a number or boolean as text. */
export function headerValues(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
  return undefined;
}

/**
 * The workspace a WORKSPACE_SOURCES place of `kind` names with `value` (a string, else
 * undefined): null when it names none (absent or empty). An id with no name stays the id.
 */
export function workspaceOf(kind: 'name' | 'id', value: string | undefined, names: WorkspaceLookup): string | null {
  if (value === undefined || value === '') return null;
  return kind === 'name' ? value : (names.get(value) ?? value);
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end < 0 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

function firstString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

export { JsonSyntaxError };
