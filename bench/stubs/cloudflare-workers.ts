// Just enough of `cloudflare:workers` for the Worker's modules to evaluate in Node (bench/micro.ts).
// The micro-benchmark never runs a Durable Object; it stubs their bindings instead.

/** Stand-in for the runtime's Durable Object base class. */
export class DurableObject<Env = unknown> {
  constructor(
    protected readonly ctx: unknown,
    protected readonly env: Env,
  ) {}
}

/** Stand-in for the runtime's entrypoint base class. */
export class WorkerEntrypoint<Env = unknown> {
  constructor(
    protected readonly ctx: unknown,
    protected readonly env: Env,
  ) {}
}

/**
 * Stand-in for the runtime's module-level bindings: the micro-benchmark binds none at module
 * level (src/metrics/metrics.ts reads METRICS from it; absent, metrics are a no-op).
 */
export const env: Record<string, unknown> = {};
