/** What the broker's own work used in the measurement (bench/cost/measure.cost.ts), as bench/cost.ts prices it. */
export interface Usage {
  /** Durable Object requests by class and method (RPC calls; alarms are counted by the harness). */
  requests: Record<string, number>;
  alarms: number;
  rowsRead: number;
  rowsWritten: number;
  kvReads: number;
  kvWrites: number;
  /** Wall time of calls into each class, summed (what duration is billed on while awaited). */
  wallMs: Record<string, number>;
  /** Calls to Twitch (outbound subrequests), from the stand-in's counters. */
  twitchCalls: number;
  logLines: number;
}
