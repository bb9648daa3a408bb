// An EventSub webhook app's setup step: it subscribes at Helix with the app token the broker holds,
// and asks the broker for a checked one when Helix answers 401.
// Run against `npm start`, after `npm run build:client`: BROKER_API_KEY=$(cat .dev.api-key) HELIX_URL=http://127.0.0.1:8789/helix npx tsx examples/eventsub-subscribe.ts
import { createBrokerClient } from 'twitch-token-broker-client';

const broker = createBrokerClient({
  baseUrl: process.env.BROKER_URL ?? 'http://localhost:8787',
  apiKey: process.env.BROKER_API_KEY ?? '', // an API key with scope app
});
const helix = process.env.HELIX_URL ?? 'https://api.twitch.tv/helix';

/** Calls Helix with the broker's app token; after a 401 once more with a token the broker checked. */
async function callHelix(path: string, init: RequestInit = {}, forceRefresh = false): Promise<Response> {
  const app = await broker.getAppToken({ forceRefresh });
  const response = await fetch(`${helix}${path}`, {
    ...init,
    headers: { ...init.headers, Authorization: `Bearer ${app.access_token}`, 'Client-Id': app.client_id },
  });
  return response.status === 401 && !forceRefresh ? callHelix(path, init, true) : response;
}

const { client_id: clientId } = await broker.getAppToken();
const created = await callHelix('/eventsub/subscriptions', {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({
    type: 'user.authorization.grant',
    version: '1',
    condition: { client_id: clientId },
    transport: { method: 'webhook', callback: process.env.CALLBACK_URL ?? 'https://example.com/eventsub', secret: process.env.WEBHOOK_SECRET ?? 'change-me-to-10-to-100-characters' },
  }),
});
console.log(`subscribe: ${created.status}`);
const listed = (await (await callHelix('/eventsub/subscriptions?type=user.authorization.grant')).json()) as { total: number };
console.log(`subscriptions: ${listed.total}`);
