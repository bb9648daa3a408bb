import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createTwitchStandin, type TwitchStandin } from './index';
import type { StandinOptions } from './model';
import { createStandinNodeListener } from './node-host';
import { StandinStateFile } from './persistence';

/** Where and how to run the stand-in over HTTP. `port: 0` picks a free port. */
export interface StandinServerOptions extends StandinOptions {
  port: number;
  /** Interface to listen on; 127.0.0.1 by default so nothing outside the machine can reach it. */
  host?: string;
  /** Keep clients, users and tokens in this file across restarts (loaded now, saved after each request and on close). */
  stateFile?: string;
}

/** A stand-in listening on a real socket. */
export interface RunningStandinServer {
  url: string;
  standin: TwitchStandin;
  /** Stops listening (and saves the state file, if any). Calling it again returns the same promise. */
  close(): Promise<void>;
}

/** Starts the stand-in as an HTTP server and resolves once it is listening. */
export function startTwitchStandinServer(options: StandinServerOptions): Promise<RunningStandinServer> {
  const { port, host = '127.0.0.1', stateFile, ...standinOptions } = options;
  const standin = createTwitchStandin(standinOptions);
  const saved = stateFile === undefined ? undefined : new StandinStateFile(stateFile, standin.state);
  saved?.load();
  const listener = createStandinNodeListener(standin);
  const server = createServer((incoming, outgoing) => {
    if (saved !== undefined) outgoing.once('close', () => saved.scheduleSave());
    return listener(incoming, outgoing);
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    // One close only: a second server.close() would fail with ERR_SERVER_NOT_RUNNING (Ctrl-C while wrangler exits).
    closing ??= new Promise<void>((closed, failed) => {
      server.close((error) => {
        if (error !== undefined) return failed(error);
        saved?.saveNow();
        closed();
      });
      // Hanging faults and idle keep-alive sockets would otherwise hold close() open.
      server.closeAllConnections();
    });
    return closing;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({ url: `http://${urlHost}:${address.port}`, standin, close });
    });
  });
}

function readFlag(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
}

async function runFromCommandLine(args: string[]): Promise<void> {
  const port = Number(readFlag(args, '--port') ?? process.env.PORT ?? 8789);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port ${String(port)}`);
  const host = readFlag(args, '--host') ?? '127.0.0.1';
  const issuer = readFlag(args, '--issuer');
  const stateFile = readFlag(args, '--state-file');
  const running = await startTwitchStandinServer({
    port,
    host,
    ...(issuer === undefined ? {} : { issuer }),
    ...(stateFile === undefined ? {} : { stateFile }),
  });
  console.log(`Local Twitch stand-in listening on ${running.url}`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runFromCommandLine(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
