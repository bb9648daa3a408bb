import { describe, expect, it } from 'vitest';
import { parseStartArgs, StartUsageError } from '../../scripts/start-options';

describe('npm start flags', () => {
  it('takes the broker port, the stand-in port and the state folder, and passes everything else to wrangler', () => {
    expect(parseStartArgs(['--port', '9787', '--twitch-port=9790', '--var', 'DEFAULT_SCOPES:chat:read', '--persist-to', 'x'])).toEqual({
      brokerPort: 9787,
      twitchPort: 9790,
      persistTo: 'x',
      wranglerArgs: ['--var', 'DEFAULT_SCOPES:chat:read'],
    });
    expect(parseStartArgs([])).toEqual({ brokerPort: undefined, twitchPort: undefined, persistTo: undefined, wranglerArgs: [] });
  });

  it.each([
    [['--port'], '--port needs a port number'],
    [['--port', 'abc'], '--port needs a port number'],
    [['--twitch-port', '70000'], '--twitch-port needs a port number'],
  ])('says what to pass when %j is wrong', (args, message) => {
    expect(() => parseStartArgs(args)).toThrow(StartUsageError);
    expect(() => parseStartArgs(args)).toThrow(message);
  });
});
