import { sha256Hex } from '../crypto/encoding';
import type { Env } from '../env';

/**
 * Where each Durable Object lives: one place that names them, so no caller builds an id by hand.
 */

/** The single minter instance every isolate routes minting through. */
export const APP_TOKEN_MINTER_NAME = 'app-token';
/** The single user directory. */
export const USER_DIRECTORY_NAME = 'directory';

/** The vault of one Twitch user. */
export const userVault = (env: Env, userId: string) => env.USER_VAULT.get(env.USER_VAULT.idFromName(userId));

/** The one app-token minter. */
export const appTokenMinter = (env: Env) => env.APP_TOKEN_MINTER.get(env.APP_TOKEN_MINTER.idFromName(APP_TOKEN_MINTER_NAME));

/** The one user directory (index and hourly sweep). */
export const userDirectory = (env: Env) => env.USER_DIRECTORY.get(env.USER_DIRECTORY.idFromName(USER_DIRECTORY_NAME));

/**
 * The directory that sweeps `userId`. One directory keeps up with a million users
 * (`npm run bench:sweep`); callers that know the user go through here so that sharding the
 * directory later changes this function only.
 */
export const directoryFor = (env: Env, _userId: string) => userDirectory(env);

/**
 * Lane `index` of the sweep, named `lane-<index>`: validates a chunk of copies from an invocation
 * of its own (`SweepLane.laneCheck`). The directory spreads its calls to Twitch over lanes 1, 2, …
 */
export const sweepLane = (env: Env, index: number) => env.SWEEP_LANE.get(env.SWEEP_LANE.idFromName(`lane-${index}`));

/**
 * The single-use record named `name` (`state:<state>`, `session:<code>`, `cooldown:<what>`). The
 * object is addressed by the name's SHA-256: the platform keeps the names objects were made from,
 * and a state or code is a secret that must not sit there.
 */
export const oneTimeStore = async (env: Env, name: string) => env.ONE_TIME_STORE.get(env.ONE_TIME_STORE.idFromName(await sha256Hex(name)));

/** The device login named by a poll token (addressed by its hash, like every one-time record). */
export const deviceFlow = async (env: Env, pollToken: string) => env.DEVICE_FLOW.get(env.DEVICE_FLOW.idFromName(await sha256Hex(`device:${pollToken}`)));
