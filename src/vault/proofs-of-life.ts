import type { StoredGrant } from './grant-store';

/** Twitch vouched for a grant's generation at this time. */
export interface Proof {
  generation: number;
  at: number;
}

/**
 * When Twitch last vouched for the current grant without the vault storing it: proofs kept in
 * memory only, each for one generation (a new pair needs a proof of its own).
 */
export class ProofsOfLife {
  /** The generation Twitch last confirmed alive on a forced check (or issued by a refresh), and when. */
  confirmedAlive: Proof | null = null;
  /**
   * The last routine validation of a generation, kept in memory only: storing it would cost a
   * write per user-hour. The sweep's directory keeps the evidence, per batch (docs/storage.md).
   */
  validatedInMemory: Proof | null = null;

  /** The last routine validation of `grant`, or its stored proof: the sweep's skip window counts from here. */
  lastValidated(grant: StoredGrant): number {
    return Math.max(grant.lastValidatedAt, this.validatedInMemory?.generation === grant.generation ? this.validatedInMemory.at : 0);
  }

  /** The newest proof that `grant` lives: login, refresh, a validation it stored or still remembers. */
  provenAt(grant: StoredGrant): number {
    return Math.max(
      grant.lastValidatedAt,
      this.confirmedAlive?.generation === grant.generation ? this.confirmedAlive.at : 0,
      this.validatedInMemory?.generation === grant.generation ? this.validatedInMemory.at : 0,
    );
  }
}
