import autocannon, { type AutocannonRequest, type AutocannonResult } from 'autocannon';
import { descendantCpuSeconds } from './process-cpu';

/** One endpoint under load: what to request and which statuses count as success. */
export interface Scenario {
  name: string;
  /** Requests each connection cycles through (several users spread load over their vaults). */
  requests: AutocannonRequest[];
  /** `/authorize` answers 302, so it counts 3xx; everything else counts 2xx. */
  success: '2xx' | '3xx';
}

/** Totals for one scenario over every round. */
export interface ScenarioTotals {
  name: string;
  requests: number;
  seconds: number;
  failures: number;
  errors: number;
  p50s: number[];
  p99s: number[];
  /** CPU seconds the broker's processes (wrangler dev, workerd) used during this scenario; null without /proc. */
  brokerCpuSeconds: number | null;
  statusCodes: Record<string, number>;
}

/** Runs `scenario` once for `seconds` with `connections` connections and adds the outcome to `totals`. */
export async function runScenario(
  baseUrl: string,
  scenario: Scenario,
  options: { seconds: number; connections: number },
  totals?: ScenarioTotals,
): Promise<ScenarioTotals> {
  const cpuBefore = descendantCpuSeconds();
  const result: AutocannonResult = await autocannon({
    url: baseUrl,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    requests: scenario.requests,
  });
  const cpuAfter = descendantCpuSeconds();
  const succeeded = result[scenario.success];
  const completed = result.requests.total;
  const into = totals ?? { name: scenario.name, requests: 0, seconds: 0, failures: 0, errors: 0, p50s: [], p99s: [], brokerCpuSeconds: 0, statusCodes: {} };
  into.requests += completed;
  into.seconds += result.duration;
  into.failures += completed - succeeded;
  into.errors += result.errors + result.timeouts;
  into.brokerCpuSeconds = into.brokerCpuSeconds === null || cpuBefore === null || cpuAfter === null ? null : into.brokerCpuSeconds + (cpuAfter - cpuBefore);
  into.p50s.push(result.latency.p50);
  into.p99s.push(result.latency.p99);
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) into.statusCodes[code] = (into.statusCodes[code] ?? 0) + count;
  return into;
}
