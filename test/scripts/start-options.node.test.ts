import { describe, expect, it } from 'vitest';
import { parseStartArgs, StartUsageError } from '../../scripts/start-options';

describe('npm start flags', () => {
  it('takes the broker port, the stand-in port and the state folder, and passes the rest to wrangler', () => {
    expect(parseStartArgs(['--port', '9787', '--twitch-port=9790', '--var', 'DEFAULT_SCOPES:chat:read', '--persist-to', 'x'])).toEqual({
      brokerPort: 9787,
      twitchPort: 9790,
      persistTo: 'x',
      wranglerArgs: ['--var', 'DEFAULT_SCOPES:chat:read'],
    });
    expect(parseStartArgs([])).toEqual({ brokerPort: undefined, twitchPort: undefined, persistTo: undefined, wranglerArgs: [] });
  });

  it("passes wrangler dev's own flags on as given, and refuses a mistyped one before anything starts", () => {
    expect(parseStartArgs(['--no-bundle', '--var=A:b', '-e', 'staging', '--log-level', 'debug']).wranglerArgs).toEqual([
      '--no-bundle',
      '--var=A:b',
      '-e',
      'staging',
      '--log-level',
      'debug',
    ]);
    expect(() => parseStartArgs(['--prot', '9000'])).toThrow('unknown option --prot');
    expect(() => parseStartArgs(['--persist=x'])).toThrow('unknown option --persist');
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
