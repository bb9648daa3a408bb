import { InvalidInputError, isJsonObject, optionalNumber, optionalString } from './json-input';
import { setRateLimitHeaders } from './rate-limit';

/** How an injected fault misbehaves. */
export type FaultKind = 'status' | 'reset' | 'hang' | 'garbage' | 'slow';

/** `before`: the fault replaces the real work. `after`: the real work happens (a code is spent, a token rotated) and then the answer is lost or spoiled. */
export type FaultPhase = 'before' | 'after';

/** A validated fault waiting in the queue. */
export interface QueuedFault {
  path: string | null;
  grantType: string | null;
  kind: FaultKind;
  status: number;
  /** Calls left to spoil; -1 means until cleared. */
  timesLeft: number;
  delayMs: number;
  retryAfterSeconds: number | null;
  body: string | null;
  phase: FaultPhase;
  /** `Location` of a 3xx answer (a CDN or load balancer redirecting). */
  location: string | null;
}

/** Raised to drop the connection without an answer; in the fetch host it is what the caller's fetch rejects with. */
export class ConnectionResetError extends TypeError {
  constructor() {
    super('fetch failed: connection reset');
  }
}

const FAULT_KINDS: readonly FaultKind[] = ['status', 'reset', 'hang', 'garbage', 'slow'];
const DEFAULT_FAULT_STATUS = 503;
const DEFAULT_SLOW_DELAY_MS = 1000;
const DEFAULT_429_RESET_SECONDS = 60;

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Returns the standard reason phrase for a status, used as the `message` of Twitch-shaped fault bodies. */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? 'Error';
}

/** Checks one fault request (an element of the POST /_standin/faults body) and fills in defaults. */
export function parseFaultRequest(input: unknown): QueuedFault {
  if (!isJsonObject(input)) throw new InvalidInputError('a fault must be a JSON object');
  const kind = optionalString(input, 'kind') ?? 'status';
  if (!isFaultKind(kind)) throw new InvalidInputError(`invalid kind: use one of ${FAULT_KINDS.join(', ')}`);
  const phase = optionalString(input, 'phase') ?? 'before';
  if (phase !== 'before' && phase !== 'after') throw new InvalidInputError('invalid phase: use before or after');
  const path = optionalString(input, 'path');
  if (path !== undefined && !path.startsWith('/')) throw new InvalidInputError('invalid path: it must start with /');
  const status = optionalNumber(input, 'status', (n) => Number.isInteger(n) && n >= 200 && n <= 599);
  const times = optionalNumber(input, 'times', (n) => Number.isInteger(n) && (n >= 1 || n === -1));
  const delayMs = optionalNumber(input, 'delayMs', (n) => n >= 0);
  return {
    path: path ?? null,
    grantType: optionalString(input, 'grantType') ?? null,
    kind,
    status: status ?? (kind === 'garbage' ? 200 : DEFAULT_FAULT_STATUS),
    timesLeft: times ?? 1,
    delayMs: delayMs ?? (kind === 'slow' ? DEFAULT_SLOW_DELAY_MS : 0),
    retryAfterSeconds: optionalNumber(input, 'retryAfterSeconds', (n) => n >= 0) ?? null,
    body: optionalString(input, 'body') ?? null,
    phase,
    location: optionalString(input, 'location') ?? null,
  };
}

function isFaultKind(kind: string): kind is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(kind);
}

/** The ordered queue of faults; each /oauth2 call consumes the first one that matches it. */
export class FaultQueue {
  private faults: QueuedFault[] = [];

  /** Appends faults and returns how many are now queued. */
  enqueue(faults: QueuedFault[]): number {
    this.faults.push(...faults);
    return this.faults.length;
  }

  /** Takes one use of the first fault matching this call, or null when the call should be answered normally. */
  takeMatching(path: string, grantType: string | null): QueuedFault | null {
    const index = this.faults.findIndex((fault) => (fault.path === null || fault.path === path) && (fault.grantType === null || fault.grantType === grantType));
    return index === -1 ? null : this.takeAt(index);
  }

  private takeAt(index: number): QueuedFault {
    const fault = this.faults[index]!;
    if (fault.timesLeft !== -1) {
      fault.timesLeft -= 1;
      if (fault.timesLeft === 0) this.faults.splice(index, 1);
    }
    return { ...fault };
  }

  /**
   * Takes one use of the first fault naming exactly this path. Helix calls use this: a fault without
   * a path stays meant for /oauth2, as it always was.
   */
  takeForPath(path: string): QueuedFault | null {
    const index = this.faults.findIndex((fault) => fault.path === path);
    return index === -1 ? null : this.takeAt(index);
  }

  /** Lists the queued faults. */
  list(): QueuedFault[] {
    return this.faults.map((fault) => ({ ...fault }));
  }

  /** Drops every queued fault and returns how many there were. */
  clear(): number {
    const cleared = this.faults.length;
    this.faults = [];
    return cleared;
  }
}

/** Builds the spoiled answer of a `status` or `garbage` fault, including a drained rate limit for 429. */
export function buildFaultResponse(fault: QueuedFault, nowMs: number): Response {
  const headers = new Headers();
  let body: string;
  if (fault.kind === 'garbage') {
    body = fault.body ?? '<html>oops';
    headers.set('Content-Type', 'text/html; charset=utf-8');
  } else {
    body = fault.body ?? JSON.stringify({ status: fault.status, message: reasonPhrase(fault.status) });
    headers.set('Content-Type', looksLikeJson(body) ? 'application/json' : 'text/plain; charset=utf-8');
  }
  if (fault.location !== null) headers.set('Location', fault.location);
  if (fault.status === 429) {
    const resetInSeconds = fault.retryAfterSeconds ?? DEFAULT_429_RESET_SECONDS;
    setRateLimitHeaders(headers, { limit: 800, remaining: 0, resetAtSeconds: Math.ceil(nowMs / 1000 + resetInSeconds) });
  }
  return new Response(body, { status: fault.status, headers });
}

function looksLikeJson(body: string): boolean {
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

/** Waits `ms` unless the signal fires first; says which happened. Timers are real even when the clock is faked. */
export function waitUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<'elapsed' | 'aborted'> {
  if (signal?.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve('aborted');
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve('elapsed');
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
