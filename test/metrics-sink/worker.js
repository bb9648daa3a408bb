// Stands in for Cloudflare's Analytics Engine sink, which miniflare only simulates as a no-op (it
// cannot be read back). The broker gets `RecordingDataset` as its METRICS binding and calls
// `writeDataPoint` on it exactly as on a real dataset; tests read what arrived through `Recorder`.
// This fakes Cloudflare's side, not the broker's code: src/metrics writes as it does in production.
import { WorkerEntrypoint } from 'cloudflare:workers';

const points = [];

export class RecordingDataset extends WorkerEntrypoint {
  writeDataPoint(point) {
    points.push({ at: Date.now(), point: point ?? {} });
  }
}

export class Recorder extends WorkerEntrypoint {
  /** Every data point written since the last call, oldest first (the list is emptied). */
  take() {
    return points.splice(0).map((entry) => entry.point);
  }
}

export default {
  fetch() {
    return new Response('metrics sink', { status: 404 });
  },
};
