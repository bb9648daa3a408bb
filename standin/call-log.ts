/** One /oauth2 request as the stand-in answered it. `status` 0 means no response was sent (reset, aborted hang). */
export interface CallRecord {
  method: string;
  path: string;
  grantType?: string;
  status: number;
  at: number;
}

/** Per-endpoint tallies; `token` always has the three grants the broker uses, plus any other grant_type seen. */
export interface CallCounts {
  /** GET /oauth2/authorize only: the consent page being shown. The POST decision appears in `calls`. */
  authorize: number;
  token: { authorization_code: number; client_credentials: number; refresh_token: number; [grantType: string]: number };
  validate: number;
  revoke: number;
  /** Every other /oauth2 path (OIDC discovery, keys, userinfo, authorize POST, unknown paths). */
  other: number;
}

/** The body of GET /_standin/calls. */
export interface CallLogSummary {
  calls: CallRecord[];
  counts: CallCounts;
  /** Oldest calls dropped from `calls` to bound memory in long benchmarks; `counts` still include them. */
  droppedCalls: number;
}

const MAX_KEPT_CALLS = 100_000;
// Dropping in batches keeps recording O(1) amortised; shifting one entry at a time would copy the whole array.
const DROP_BATCH = 10_000;

function emptyCounts(): CallCounts {
  return { authorize: 0, token: { authorization_code: 0, client_credentials: 0, refresh_token: 0 }, validate: 0, revoke: 0, other: 0 };
}

/** Records every /oauth2 call, including those answered by injected faults, so tests can count upstream traffic. */
export class CallLog {
  private calls: CallRecord[] = [];
  private counts: CallCounts = emptyCounts();
  private droppedCalls = 0;

  /** Appends a call and bumps its endpoint's counter. */
  record(call: CallRecord): void {
    this.calls.push(call);
    if (this.calls.length >= MAX_KEPT_CALLS + DROP_BATCH) {
      this.calls.splice(0, DROP_BATCH);
      this.droppedCalls += DROP_BATCH;
    }
    if (call.path === '/oauth2/authorize' && call.method === 'GET') this.counts.authorize += 1;
    else if (call.path === '/oauth2/token') {
      const grantType = call.grantType ?? '(none)';
      this.counts.token[grantType] = (this.counts.token[grantType] ?? 0) + 1;
    } else if (call.path === '/oauth2/validate') this.counts.validate += 1;
    else if (call.path === '/oauth2/revoke') this.counts.revoke += 1;
    else this.counts.other += 1;
  }

  /** Returns a copy of the log and counters, safe to serialise. */
  summary(): CallLogSummary {
    return {
      calls: this.calls.map((call) => ({ ...call })),
      counts: { ...this.counts, token: { ...this.counts.token } },
      droppedCalls: this.droppedCalls,
    };
  }

  /** Forgets every call. */
  clear(): void {
    this.calls = [];
    this.counts = emptyCounts();
    this.droppedCalls = 0;
  }
}

/** One request to the API host outside /oauth2 and /_standin, its request target exactly as it arrived. */
export interface ApiCallRecord {
  method: string;
  /** Path and query as sent on the wire (the Node host's raw request line), before any normalisation. */
  target: string;
  at: number;
}

/** Records Helix (and other non-identity) requests, so tests can see which paths a caller reached. */
export class ApiCallLog {
  private calls: ApiCallRecord[] = [];

  /** Appends a call, dropping the oldest beyond a bound so long benchmarks stay small. */
  record(call: ApiCallRecord): void {
    this.calls.push(call);
    if (this.calls.length > MAX_KEPT_CALLS) this.calls.splice(0, DROP_BATCH);
  }

  /** Returns a copy of the recorded calls. */
  list(): ApiCallRecord[] {
    return this.calls.map((call) => ({ ...call }));
  }

  /** Forgets every call. */
  clear(): void {
    this.calls = [];
  }
}
