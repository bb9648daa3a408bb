import { DurableObject } from 'cloudflare:workers';
import { getConfig } from '../config';
import type { Env } from '../env';
import { checkCopies, type CopyCheck, type CopyToCheck } from './copy-check';

/**
 * A lane of the sweep: validates a chunk of copies for the directory from an invocation of its
 * own, with its own six outgoing connections, subrequest allowance and CPU time. Stores nothing
 * (its SQLite storage stays empty); the directory records every outcome. Its own class, not a
 * Worker entrypoint: Workers called through a service binding share the calling request's CPU
 * time (developers.cloudflare.com/workers/runtime-apis/bindings/service-bindings/), which is the
 * very allowance lanes exist to add. Lanes are named `lane-<n>` (`sweepLane` in src/vault/stubs.ts).
 */
export class SweepLane extends DurableObject<Env> {
  /** Validates `copies` with Twitch, six at a time, in the order given. */
  async laneCheck(copies: CopyToCheck[]): Promise<CopyCheck[]> {
    return checkCopies(getConfig(this.env), copies);
  }
}
