import { DurableObject } from 'cloudflare:workers';
import { getConfig } from '../config';
import type { Env } from '../env';
import { checkCopies, type CopyCheck, type CopyToCheck } from './copy-check';

/**
 * Extra hands for the sweep's directory: validates a chunk of users' access-token copies from an
 * invocation of its own, with its own six outgoing connections and its own subrequest allowance,
 * so a directory with more users due than six connections get through keeps up. Stores nothing;
 * the directory records every outcome.
 */
export class SweepLane extends DurableObject<Env> {
  /** Validates `copies` with Twitch (see `checkCopies`). */
  async check(copies: CopyToCheck[]): Promise<CopyCheck[]> {
    return checkCopies(getConfig(this.env), copies);
  }
}
