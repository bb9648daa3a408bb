/**
 * What the broker's work used in the measurement (bench/cost/measure.cost.ts), per operation, as
 * bench/cost.ts prices it. Every figure is counted from what the operation itself did: each SQL
 * statement, storage call and Durable Object request is tagged with the operation that ran it
 * (see `Operation`), never derived by subtracting one phase from another.
 */

/**
 * The operations a bill is made of.
 * - `batch`: one directory batch (an alarm, or the cron's): its cursor, evidence row, alarm, and
 *   the directory's own calls to Twitch.
 * - `handover`: a vault woken to hand over the copy of its current token, and the directory
 *   storing that copy.
 * - `lane`: a lane call validating a chunk of copies.
 * - `burst`: the batches of the phase where the harness makes every user due at once (measured
 *   for the lanes they call; each visit there writes a row no steady batch writes, so not priced).
 * - `idle-visit`: a visit that finds a user's token expired less than SET_ASIDE_AFTER_MS ago with
 *   nobody asking (the vault answers `idle`): the directory keeps the user and writes nothing.
 * - `set-aside`: such a visit once the token has been expired SET_ASIDE_AFTER_MS, and the directory
 *   marking the user idle.
 * - `bring-back`: the vault telling the directory that a caller's refresh brought a user set aside
 *   back, with the new token's copy (so no handover follows).
 * - `vault-visit`: what a vault reads or writes answering any directory visit (split evenly over the visits).
 * - `caller-refresh`, `caller-warm`: a caller's `GET /token/users/:id` that refreshes, or is
 *   served the vault's current token.
 * - `cron`: the hourly cron's own work (the app token's check), beyond the batch it runs.
 * - `login`: one-off writes of a login or registration (seeding; a first visit recording a login):
 *   not part of any recurring operation, reported and left out.
 * - `harness`: the test harness's own calls (e.g. `runDurableObjectAlarm`'s `deleteAlarm`): seen,
 *   never counted.
 */
export type Operation =
  | 'batch'
  | 'handover'
  | 'lane'
  | 'burst'
  | 'idle-visit'
  | 'set-aside'
  | 'bring-back'
  | 'vault-visit'
  | 'caller-refresh'
  | 'caller-warm'
  | 'caller-app'
  | 'cron'
  | 'login'
  | 'harness'
  | 'other';

/** What one operation used, summed over its occurrences. */
export interface OperationUsage {
  /** How many times the operation happened. */
  occurrences: number;
  doRequests: number;
  workerRequests: number;
  rowsRead: number;
  rowsWritten: number;
  kvReads: number;
  kvWrites: number;
  /** Wall time of the Durable Object invocations serving it (what duration is billed on), at Twitch answering at once. */
  wallMs: number;
  twitchCalls: number;
  logLines: number;
}

/** Usage by operation. */
export type Usage = Partial<Record<Operation, OperationUsage>>;

/** One directory alarm, as the harness saw it. */
export interface AlarmRecord {
  wallMs: number;
  /** Vaults woken and lane calls made during it: an alarm with neither measures the batch alone. */
  vaultWakes: number;
  laneCalls: number;
}

/** The measurement, as measure.cost.ts prints it on its `COST_MEASUREMENT` line. */
export interface Measurement {
  smoke: boolean;
  users: number;
  simulatedHours: number;
  clock: { alarms: number; crons: number };
  /** Validations of copies by the directory or a lane over the sweep phase (calls to Twitch's /validate). */
  validations: number;
  /** Per operation, over the whole measurement. */
  usage: Usage;
  alarms: AlarmRecord[];
  storage: { vaultBytes: number; directoryBytesPerUser: number };
}

/** CPU per invocation, as cpu.cost.ts prints it on its `CPU_MEASUREMENT` line (medians of `runs` runs, ms). */
export interface CpuMeasurement {
  smoke: boolean;
  runs: number;
  /** A directory batch validating `copies` copies itself. */
  batch: { copies: number; medianMs: number; maxMs: number };
  /** A lane call validating `copies` copies. */
  lane: { copies: number; medianMs: number; maxMs: number };
  /** An empty run timed the same way. */
  floorMs: number;
}
