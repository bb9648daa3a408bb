/** How the console writes times and durations: absolute UTC, with the distance from now. */

/** `2026-11-29 06:10:05 UTC`. */
export function utc(at: number): string {
  return new Date(at)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
}

/** `in 3 h 10 min`, `12 min ago`, `now`. */
export function relative(at: number, now: number): string {
  const ms = at - now;
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes === 0) return 'now';
  const span = minutes < 60 ? `${minutes} min` : minutes < 48 * 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${Math.round(minutes / 1440)} days`;
  return ms > 0 ? `in ${span}` : `${span} ago`;
}

/** A share as a percentage with one decimal: `99.5 %`. */
export const percent = (share: number): string => `${(share * 100).toFixed(1)} %`;
