import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time used by this process's descendants: `wrangler dev` (its Node proxy, workerd, esbuild).
 * On a shared machine other tenants steal time from whichever endpoint is under load at that
 * moment; the broker's own CPU per request does not depend on them. Linux only (/proc): null elsewhere.
 */

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every mainstream Linux build

interface ProcessStat {
  pid: number;
  parentPid: number;
  cpuTicks: number;
}

function readStat(pid: string): ProcessStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid: Number(pid), parentPid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null; // exited while we looked
  }
}

/** Seconds of CPU (user + system) used so far by every live descendant of `rootPid`. */
export function descendantCpuSeconds(rootPid = process.pid): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name));
  } catch {
    return null;
  }
  const stats = entries.map(readStat).filter((stat): stat is ProcessStat => stat !== null);
  const children = new Map<number, ProcessStat[]>();
  for (const stat of stats) children.set(stat.parentPid, [...(children.get(stat.parentPid) ?? []), stat]);
  let ticks = 0;
  const pending = [...(children.get(rootPid) ?? [])];
  for (let guard = 0; pending.length > 0 && guard < 10_000; guard++) {
    const next = pending.pop()!;
    ticks += next.cpuTicks;
    pending.push(...(children.get(next.pid) ?? []));
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}
