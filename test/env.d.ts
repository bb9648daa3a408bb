import type { Env as BrokerEnv } from '../src/env';

// `env` from cloudflare:workers / cloudflare:test carries the broker's bindings.
declare global {
  namespace Cloudflare {
    interface Env extends BrokerEnv {}
  }
}
