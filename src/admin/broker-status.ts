import { getConfig } from '../config';
import { sealingKeyProblem } from '../crypto/key-health';
import type { Env } from '../env';
import { lastSubscriptionCheck, type SubscriptionLastCheck } from '../eventsub/last-check';
import { eventSubSettings } from '../eventsub/subscriptions';
import type { SweepEvidence } from '../sweep/sweep-evidence';
import { batchSummaryJson, isoTime } from './evidence-json';
import { appTokenMinter, userDirectory } from '../vault/stubs';

/** Batches the console's overview shows. */
const RECENT_BATCHES = 10;

/** What is wrong with each setting (names, never values), including a key-rotation mistake only storage shows. */
export async function configurationProblems(env: Env): Promise<Record<string, string>> {
  const config = getConfig(env);
  const details: Record<string, string> = { ...config.problemDetails };
  if (!details.TOKEN_ENCRYPTION_KEY) {
    const keyProblem = await sealingKeyProblem(env, config);
    if (keyProblem) details.TOKEN_ENCRYPTION_KEY = keyProblem;
  }
  return details;
}

/** The broker's state for an operator: settings, app token, EventSub, sweep. No secret. */
export interface BrokerStatus {
  problems: Record<string, string>;
  /** The app token the minter holds: its expiry and when it was minted; null when none is held. */
  appToken: { expiresAt: number; mintedAt: number } | null;
  /** `lastCheck`: the hourly check's last outcome (or Twitch's revocation since); null before the first. */
  eventSub: { enabled: true; callback: string; lastCheck: SubscriptionLastCheck | null } | { enabled: false; reason: string };
  /** `nextBatchAt`: when the directory's alarm runs the next batch (null: no user to visit). */
  sweep: { users: number; inUse: number; due: number; nextBatchAt: number | null; recentBatches: SweepEvidence[] };
}

/** Reads every panel of the console's overview in parallel. */
export async function brokerStatus(env: Env): Promise<BrokerStatus> {
  const directory = userDirectory(env);
  const [problems, appToken, stats, recentBatches, lastCheck] = await Promise.all([
    configurationProblems(env),
    appTokenMinter(env).status(),
    directory.stats(),
    directory.evidence(RECENT_BATCHES),
    // A display-only note: a KV hiccup shows as "not checked yet", not as a failed page.
    lastSubscriptionCheck(env).catch(() => null),
  ]);
  const eventSub =
    problems.EVENTSUB_SECRET || problems.PUBLIC_URL ? { enabled: false as const, reason: 'see the configuration problems' } : eventSubSettings(getConfig(env));
  return {
    problems,
    appToken,
    eventSub: eventSub.enabled ? { enabled: true, callback: eventSub.callback, lastCheck } : { enabled: false, reason: eventSub.reason },
    sweep: { users: stats.users, inUse: stats.active, due: stats.due, nextBatchAt: stats.nextBatchAt, recentBatches },
  };
}

/** The status as `GET /admin/status` sends it. */
export function brokerStatusJson(status: BrokerStatus) {
  const iso = isoTime;
  return {
    configuration: Object.keys(status.problems).length === 0 ? ('complete' as const) : ('incomplete' as const),
    problems: status.problems,
    app_token: status.appToken ? { expires_at: iso(status.appToken.expiresAt), minted_at: iso(status.appToken.mintedAt) } : null,
    eventsub: status.eventSub.enabled
      ? { enabled: true as const, callback: status.eventSub.callback, last_check: lastCheckJson(status.eventSub.lastCheck) }
      : status.eventSub,
    sweep: {
      users: status.sweep.users,
      in_use: status.sweep.inUse,
      due: status.sweep.due,
      next_batch_at: status.sweep.nextBatchAt === null ? null : iso(status.sweep.nextBatchAt),
      recent_batches: status.sweep.recentBatches.map(batchSummaryJson),
    },
  };
}

function lastCheckJson(check: SubscriptionLastCheck | null) {
  return check && { outcome: check.outcome, at: isoTime(check.at), ...(check.detail === undefined ? {} : { detail: check.detail }) };
}

/** The status body. */
export type BrokerStatusBody = ReturnType<typeof brokerStatusJson>;
