/**
 * Waits for the next minute when the current one is about to end. The local rate-limiting binding
 * (miniflare) counts in one-minute windows aligned to the clock, so a burst of LOGIN_LIMIT + 1
 * requests straddling a minute boundary is counted as two smaller bursts and never limited.
 */
export async function startBurstInOneWindow(burstMs = 5_000): Promise<void> {
  const leftMs = 60_000 - (Date.now() % 60_000);
  if (leftMs < burstMs) await new Promise((resolve) => setTimeout(resolve, leftMs + 50));
}
