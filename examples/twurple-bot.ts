// A bot's backend on twurple, every token from the broker. Against `npm start`:
//   npm run build:client   (tsconfig.json maps twitch-token-broker-client to its build in client/dist)
//   BROKER_API_KEY=$(cat .dev.api-key) TWURPLE_MOCK_API_PORT=8789 npx tsx examples/twurple-bot.ts
// (TWURPLE_MOCK_API_PORT sends twurple's Helix calls to the local stand-in; leave it out with real Twitch.)
import { ApiClient } from '@twurple/api';
import { InsufficientScopeError, ReauthorizationRequiredError } from 'twitch-token-broker-client';
import { createBrokerAuthProvider } from 'twitch-token-broker-client/twurple';

const BOT_USER_ID = process.env.BOT_USER_ID ?? '100001'; // logged in once at the broker (streamer_alice locally)

const authProvider = await createBrokerAuthProvider({
  baseUrl: process.env.BROKER_URL ?? 'http://localhost:8787',
  apiKey: process.env.BROKER_API_KEY ?? '', // an API key with scopes app and users
  intents: { chat: BOT_USER_ID }, // the account a ChatClient connects as
});
const api = new ApiClient({ authProvider });

// Public data: the app token.
const bob = await api.users.getUserByName('mod_bob');
console.log(`mod_bob has id ${bob?.id}`);

// As the bot's user: its token. If Helix answers 401, twurple asks the broker for a checked refresh and retries.
try {
  const me = await api.users.getAuthenticatedUser(BOT_USER_ID, true);
  console.log(`the bot is ${me.name} <${me.email}>`);
} catch (error) {
  if (error instanceof InsufficientScopeError || error instanceof ReauthorizationRequiredError) {
    console.log(`the bot's user must log in again at ${error.authorizeUrl}`);
  } else {
    throw error;
  }
}
