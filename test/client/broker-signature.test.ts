import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { verifyBrokerSignature, type BrokerEvent } from '../../client/index';
import { TEST_BINDINGS } from '../test-bindings';
import { login } from '../support/broker';
import { freshStateForEachTest } from '../support/reset';
import { twitch, type ReceivedDelivery } from '../support/twitch';

/**
 * The SDK's `verifyBrokerSignature` on the events the broker really sends to NOTIFY_URL (the
 * stand-in plays the app's receiver): what an app's webhook handler relies on to trust them.
 */

freshStateForEachTest();

/** The first event delivery for `userId`, bringing the vault's alarm forward until it arrives. */
async function deliveryFor(userId: string): Promise<ReceivedDelivery> {
  const vault = env.USER_VAULT.get(env.USER_VAULT.idFromName(userId));
  return vi.waitFor(
    async () => {
      const delivery = (await twitch.appWebhook.received()).find((received) => (JSON.parse(received.body) as BrokerEvent).user_id === userId);
      if (!delivery) {
        await runDurableObjectAlarm(vault);
        throw new Error('no delivery yet');
      }
      return delivery;
    },
    { timeout: 10_000, interval: 100 },
  );
}

describe('verifyBrokerSignature', () => {
  it('accepts a delivery as the broker signed it, and nothing altered, re-signed or replayed', async () => {
    await login({ userId: '100001', scope: 'chat:read' });
    const { body, headers } = await deliveryFor('100001');
    const header = headers['broker-signature']!;
    const secret = TEST_BINDINGS.NOTIFY_SECRET;
    const signedAt = Number(/t=(\d+)/.exec(header)![1]) * 1000;

    expect(await verifyBrokerSignature(body, header, secret)).toBe(true);
    expect(await verifyBrokerSignature(new TextEncoder().encode(body), header, secret)).toBe(true);
    expect((JSON.parse(body) as BrokerEvent).type).toBe('user.authorized');

    expect(await verifyBrokerSignature(body.replace('100001', '100002'), header, secret)).toBe(false);
    expect(await verifyBrokerSignature(JSON.stringify(JSON.parse(body), null, 1), header, secret)).toBe(false);
    expect(await verifyBrokerSignature(body, header, `${secret}-other`)).toBe(false);
    expect(
      await verifyBrokerSignature(
        body,
        header.replace(/t=(\d+)/, (_m, t: string) => `t=${Number(t) + 1}`),
        secret,
      ),
    ).toBe(false);
    expect(await verifyBrokerSignature(body, null, secret)).toBe(false);
    expect(await verifyBrokerSignature(body, 'v1=abc', secret)).toBe(false);
    // Ten minutes later the same delivery is a replay; a wider tolerance is the receiver's choice.
    expect(await verifyBrokerSignature(body, header, secret, { now: signedAt + 600_000 })).toBe(false);
    expect(await verifyBrokerSignature(body, header, secret, { now: signedAt + 600_000, toleranceSeconds: 900 })).toBe(true);
  });
});
