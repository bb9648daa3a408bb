import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StandinSnapshot, StandinState } from './state';

/**
 * Keeps a stand-in's state in a file between runs of `npm start`, so the broker's stored grants (kept by
 * wrangler in .wrangler/state) and the stand-in's tokens never disagree after a restart. The file holds the
 * stand-in's own tokens, which nothing but this stand-in accepts; it is written 0600 and git-ignored.
 */
export class StandinStateFile {
  private pendingSave: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly state: StandinState,
  ) {}

  /** Loads the saved state if the file exists; returns whether it did. */
  load(): boolean {
    if (!existsSync(this.path)) return false;
    try {
      this.state.restore(JSON.parse(readFileSync(this.path, 'utf8')) as StandinSnapshot);
    } catch (error) {
      throw new Error(
        `${this.path} is not a saved stand-in state (${(error as Error).message}); delete it, and the broker's local state beside it, to start fresh`,
      );
    }
    return true;
  }

  /** Saves soon: many requests in a burst cost one write. */
  scheduleSave(): void {
    this.pendingSave ??= setTimeout(() => {
      this.pendingSave = undefined;
      this.saveNow();
    }, 100);
  }

  /** Saves at once (on shutdown), cancelling a scheduled save. */
  saveNow(): void {
    clearTimeout(this.pendingSave);
    this.pendingSave = undefined;
    mkdirSync(dirname(this.path), { recursive: true });
    // Write then rename, so a crash mid-write leaves the previous file rather than half of a new one.
    const partial = `${this.path}.partial`;
    writeFileSync(partial, JSON.stringify(this.state.snapshot()), { mode: 0o600 });
    renameSync(partial, this.path);
  }
}
