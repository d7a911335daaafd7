/**
 * HTTP-date (RFC 9110 §5.6.7): formatting in IMF-fixdate and parsing of the three formats
 * recipients must accept, as Django's `http_date` / `parse_http_date_safe` do.
 */
import { describe } from "../arguments.ts";

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const TIME = String.raw`(?<hour>\d{2}):(?<minute>\d{2}):(?<second>\d{2})`;
/** The named groups every pattern of FORMATS captures. */
type Field = "day" | "month" | "year" | "hour" | "minute" | "second";
const FORMATS = [
  new RegExp(String.raw`^[A-Za-z]{3}, (?<day>\d{2}) (?<month>[A-Za-z]{3}) (?<year>\d{4}) ${TIME} GMT$`), // IMF-fixdate
  new RegExp(String.raw`^[A-Za-z]{6,9}, (?<day>\d{2})-(?<month>[A-Za-z]{3})-(?<year>\d{2}) ${TIME} GMT$`), // RFC 850
  new RegExp(String.raw`^[A-Za-z]{3} (?<month>[A-Za-z]{3}) (?<day>[ \d]\d) ${TIME} (?<year>\d{4})$`), // asctime
];

/**
 * Format a time (epoch milliseconds or a Date) as an IMF-fixdate; fractions of a second are
 * dropped.
 *
 * @example
 * formatHttpDate(1468749602000) // "Sun, 17 Jul 2016 10:00:02 GMT"
 */
export function formatHttpDate(time: number | Date): string {
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) throw new TypeError(`time must be a valid time, got ${describe(time)}`);
  return date.toUTCString();
}

/**
 * Parse an HTTP-date (IMF-fixdate, RFC 850 or asctime) to epoch milliseconds, or `undefined`
 * when the value is missing or not a valid date. Never throws. A two-digit RFC 850 year more
 * than 50 years ahead is taken as the previous century (RFC 9110).
 *
 * @example
 * parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT")  // 784111777000
 * parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT") // 784111777000
 * parseHttpDate("yesterday")                      // undefined
 */
export function parseHttpDate(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  for (const format of FORMATS) {
    const match = format.exec(value);
    if (!match?.groups) continue;
    const { day, month, year, hour, minute, second } = match.groups as Record<Field, string>;
    return toTime(fullYear(year), MONTHS.indexOf(month.toLowerCase()), Number(day), Number(hour), Number(minute),
      Number(second));
  }
  return undefined;
}

function fullYear(year: string): number {
  if (year.length === 4) return Number(year);
  const thisYear = new Date().getUTCFullYear();
  const candidate = thisYear - (thisYear % 100) + Number(year);
  return candidate > thisYear + 50 ? candidate - 100 : candidate;
}

/** The time for these fields, or `undefined` when one is out of range (31 Feb, 25:00, month -1). */
function toTime(year: number, month: number, day: number, hour: number, minute: number, second: number): number | undefined {
  const date = new Date(Date.UTC(year, month, day, hour, minute, second));
  const valid = month >= 0 && date.getUTCFullYear() === year && date.getUTCMonth() === month &&
    date.getUTCDate() === day && date.getUTCHours() === hour && date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  return valid ? date.getTime() : undefined;
}
