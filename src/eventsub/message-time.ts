/**
 * `Twitch-Eventsub-Message-Timestamp` is RFC 3339 (`2026-12-04T03:28:16.123456789Z`: Twitch sends
 * nanoseconds). Parsed strictly, because `Date.parse` also reads HTTP dates, zone-less local times,
 * six-digit years and more: a sender could pick a text that means another time than it says.
 */

const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const daysInMonth = (year: number, month: number): number => (month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!);

/** An RFC 3339 date-time as epoch milliseconds (fractions below a millisecond dropped), or null for anything else. */
export function parseRfc3339(text: string): number | null {
  const match = RFC_3339.exec(text);
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetHours = match[10] === undefined ? 0 : Number(match[10]);
  const offsetMinutes = match[11] === undefined ? 0 : Number(match[11]);
  // 60 is a leap second (RFC 3339 5.6); it counts as the next second's start.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return null;
  if (offsetHours > 23 || offsetMinutes > 59) return null;
  // setUTCFullYear takes the year as written (Date.UTC would read 0050 as 1950).
  const midnight = new Date(0);
  midnight.setUTCFullYear(year, month - 1, day);
  const milliseconds = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  const offsetMs = (match[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return midnight.getTime() + ((hour * 60 + minute) * 60 + second) * 1000 + milliseconds - offsetMs;
}
