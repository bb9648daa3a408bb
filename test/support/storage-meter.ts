import { runInDurableObject } from 'cloudflare:test';

/** An SQL statement's cursor: its counts are final once the statement has run to the end. */
export interface StatementCursor {
  rowsRead: number;
  rowsWritten: number;
}

/** What a meter is told of each storage call, as it is made (its stack names who made it). */
export interface StorageMeter {
  /** A key-value call: one row per key (`setAlarm` / `deleteAlarm` one row written, and name no key). */
  onKeyValue(kind: 'read' | 'write', rows: number, storage: DurableObjectStorage, keys: string[]): void;
  /** An SQL statement, with its query text. */
  onStatement(cursor: StatementCursor, query: string, sql: SqlStorage): void;
}

/** The keys a key-value call names: one, a list, or an object's entries (`put({...})`); none for an alarm. */
function keysOf(method: string, first: unknown): string[] {
  if (method === 'setAlarm' || method === 'deleteAlarm') return [];
  if (typeof first === 'string') return [first];
  if (Array.isArray(first)) return first.map(String);
  return typeof first === 'object' && first !== null ? Object.keys(first) : [];
}

/**
 * Meters the rows Durable Object storage is billed for, as the platform counts them: each SQL
 * statement by its cursor's `rowsRead` / `rowsWritten`, and each key-value call one row per key it
 * names, `put({...})` one per entry (key-value pairs live in a hidden SQLite table; `setAlarm` and
 * `deleteAlarm` write one row). Wraps the storage prototypes, which every Durable Object in the
 * isolate shares, so `storage` is any object's. Returns the function that unwraps them.
 */
export function meterStorage(storage: DurableObjectStorage, meter: StorageMeter): () => void {
  const sqlPrototype = Object.getPrototypeOf(storage.sql) as { exec: (this: SqlStorage, ...args: unknown[]) => StatementCursor };
  const exec = sqlPrototype.exec;
  sqlPrototype.exec = function (this: SqlStorage, ...args: unknown[]) {
    const cursor = exec.apply(this, args);
    meter.onStatement(cursor, String(args[0]), this);
    return cursor;
  };
  const storagePrototype = Object.getPrototypeOf(storage) as Record<string, (this: DurableObjectStorage, ...args: unknown[]) => unknown>;
  const originals: [string, (this: DurableObjectStorage, ...args: unknown[]) => unknown][] = [];
  for (const [method, kind] of [
    ['get', 'read'],
    ['put', 'write'],
    ['delete', 'write'],
    ['setAlarm', 'write'],
    ['deleteAlarm', 'write'],
  ] as const) {
    const original = storagePrototype[method]!;
    originals.push([method, original]);
    storagePrototype[method] = function (this: DurableObjectStorage, ...args: unknown[]) {
      const keys = keysOf(method, args[0]);
      meter.onKeyValue(kind, method === 'setAlarm' || method === 'deleteAlarm' ? 1 : keys.length, this, keys);
      return original.apply(this, args);
    };
  }
  return () => {
    sqlPrototype.exec = exec;
    for (const [method, original] of originals) storagePrototype[method] = original;
  };
}

/**
 * The rows one Durable Object (`stub`'s) writes while `work` runs, key-value calls and SQL
 * statements alike, as `meterStorage` counts them. Other objects' rows are not counted; with
 * `keys`, only key-value writes to those keys are.
 */
export async function rowsWrittenDuring(stub: DurableObjectStub, work: () => Promise<unknown>, options: { keys?: string[] } = {}): Promise<number> {
  const storage = await runInDurableObject(stub, (_instance, ctx) => ctx.storage);
  const only = options.keys;
  let written = 0;
  const cursors: StatementCursor[] = [];
  const stop = meterStorage(storage, {
    onKeyValue(kind, rows, by, keys) {
      if (kind !== 'write' || by !== storage) return;
      written += only ? keys.filter((key) => only.includes(key)).length : rows;
    },
    onStatement(cursor, _query, by) {
      if (!only && by === storage.sql) cursors.push(cursor);
    },
  });
  try {
    await work();
  } finally {
    stop();
  }
  return written + cursors.reduce((sum, cursor) => sum + cursor.rowsWritten, 0);
}
