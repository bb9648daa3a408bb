import { getConfig } from '../config';
import type { Env } from '../env';

/**
 * Reads every setting the sweep needs, so a broken one throws its ConfigError once, before any
 * user is touched, instead of failing (and logging) once per user.
 */
export function checkSweepSettings(env: Env): void {
  const config = getConfig(env);
  void [config.clientId, config.clientSecret, config.authBaseUrl, config.tokenKeys];
}
