/** Time rules shared by the vault, the minter and the sweep. Times are epoch milliseconds. */

/** Refresh a user token when less than this remains. */
export const USER_REFRESH_MARGIN_MS = 5 * 60_000;
/** A user token Twitch confirmed alive on a forced refresh is not checked again for this long. */
export const FORCED_CHECK_WINDOW_MS = 30_000;
/** Twitch requires validating every token hourly. */
export const VALIDATION_INTERVAL_MS = 60 * 60_000;
/**
 * A token validated (or refreshed) more recently than this is not validated again when the sweep
 * visits it. Short on purpose: the sweep visits each user once per cycle (src/sweep/schedule.ts),
 * so a skipped visit means the next proof comes up to window + cycle later, still inside the hour.
 */
export const VALIDATION_SKIP_WINDOW_MS = 3 * 60_000;
/**
 * The sweep sets a user aside (stops visiting them until a caller brings them back) only once their
 * access token has been expired this long; before that each visit finds them idle and writes
 * nothing. A vault refreshing a token expired for less tells the directory nothing: the directory
 * still holds the user in use and meets the new token at their next moment, within the cycle. So a
 * token that lapses for under an hour between callers costs no row and no extra request.
 */
export const SET_ASIDE_AFTER_MS = 60 * 60_000;
/** How far apart the vault's and the directory's clocks may be when they apply SET_ASIDE_AFTER_MS. */
export const SET_ASIDE_CLOCK_SLACK_MS = 60_000;
/** The sweep mints a new app token when less than this remains. */
export const APP_TOKEN_RENEW_MARGIN_MS = 24 * 3600_000;
/** The app token is never served with less than this left. */
export const APP_TOKEN_SERVE_MARGIN_MS = 5 * 60_000;
