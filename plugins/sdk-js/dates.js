// Dates across the boundary: the WIT `date` record ({year, month, day}),
// JS `Date`s at midnight UTC, `YYYY-MM-DD` text, and day numbers (days
// since 1970-01-01, as a column batch packs DATE columns). Nothing here
// touches the host.

const DAY_MS = 86_400_000;
const ISO_DATE = /^(-?\d{4,6})-(\d{2})-(\d{2})$/;

/** A `Date` at midnight UTC of `year`, `month` (1 to 12), `day`. */
function utc(year, month, day) {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date;
}

/** The WIT `date` as a `Date` at midnight UTC. */
export function fromWit(date) {
  return utc(date.year, date.month, date.day);
}

/**
 * A `Date` (its UTC calendar day) or `YYYY-MM-DD` text as the WIT `date`.
 * Throws a `TypeError` for anything else, and a `RangeError` for text that
 * is not a real day (`2026-02-30`).
 */
export function toWit(date) {
  const day = toDate(date);
  return { year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate() };
}

/**
 * A `Date`, `YYYY-MM-DD` text or a WIT `date` record as a `Date` at
 * midnight UTC.
 */
export function toDate(date) {
  if (date instanceof Date) {
    if (Number.isNaN(date.getTime())) throw new RangeError('an invalid Date is not a day');
    return utc(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
  }
  if (typeof date === 'string') {
    const parts = ISO_DATE.exec(date);
    if (parts) {
      const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
      const parsed = utc(year, month, day);
      if (parsed.getUTCMonth() + 1 === month && parsed.getUTCDate() === day) return parsed;
    }
    throw new RangeError(`"${date}" is not a day written YYYY-MM-DD`);
  }
  if (date && typeof date === 'object' && 'year' in date && 'month' in date && 'day' in date) {
    return fromWit(date);
  }
  throw new TypeError(`${describeValue(date)} is not a Date, YYYY-MM-DD text or a WIT date`);
}

/** Day number `day` (days since 1970-01-01) as a `Date` at midnight UTC. */
export function fromDays(day) {
  return new Date(day * DAY_MS);
}

/** A date (as `toDate` takes it) as a day number (days since 1970-01-01). */
export function toDays(date) {
  return Math.round(toDate(date).getTime() / DAY_MS);
}

/** A date (as `toDate` takes it) as `YYYY-MM-DD` text. */
export function isoDate(date) {
  return toDate(date).toISOString().slice(0, 10);
}

/** The date `days` days after `date` (before it when negative), as a `Date`. */
export function addDays(date, days) {
  return fromDays(toDays(date) + days);
}

/** A short description of `value` for error messages: its type and text. */
export function describeValue(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (value instanceof Date) return `Date ${value.toISOString()}`;
  const kind = typeof value === 'object' ? value.constructor?.name ?? 'object' : typeof value;
  let text;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
  } catch {
    text = String(value);
  }
  return `${kind} ${text ?? String(value)}`;
}
