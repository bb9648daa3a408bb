/**
 * Structured, secret-free logging. Only the fields named here reach the log: user ids, outcomes,
 * counts and reasons. Never pass a token, key, code or cookie value.
 */
type LogField = string | number | boolean | null;

/** Logs one event as a single JSON line. */
export function logEvent(event: string, fields: Record<string, LogField> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}
