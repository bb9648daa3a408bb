// Another Worker of the same account using the broker over a service binding, as a user's
// wrangler.toml would set it up: [[services]] binding = "BROKER", service = "twitch-token-broker",
// entrypoint = "TokenBroker". It answers what the RPC calls resolved to, or the error they threw.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const options = JSON.parse(url.searchParams.get('options') ?? '{}');
    try {
      const body =
        url.pathname === '/app' ? await env.BROKER.getAppToken(options) : await env.BROKER.getUserToken(url.pathname.slice('/users/'.length), options);
      return Response.json({ ok: true, body });
    } catch (error) {
      return Response.json({ ok: false, name: error.name, message: error.message });
    }
  },
};
