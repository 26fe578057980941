// ACR timestamps carry up to nine fractional digits; we keep all of them in a sortable UTC string.
import { z } from 'zod';

/** `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: fixed width, so string order is time order. */
export type Instant = string & { readonly __brand: 'Instant' };

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp without losing sub-millisecond digits; undefined when invalid. */
export function toInstant(text: string): Instant | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const wholeSeconds = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${zone.toUpperCase()}`);
  if (Number.isNaN(wholeSeconds)) return undefined;
  // Date.parse rolls e.g. Feb 30 or 24:00 over, whatever the offset; reject fields that do not round-trip.
  const fields = new Date(0);
  fields.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  fields.setUTCHours(Number(h), Number(mi), Number(s));
  if (fields.toISOString().slice(0, 19) !== `${y}-${mo}-${d}T${h}:${mi}:${s}`) return undefined;
  // An offset can carry 9999-12-31 into year 10000 (or 0001 back into 0000): no four-digit UTC
  // year then, and our fixed-width form could not be read back. Only 0001..9999 after the offset.
  const iso = new Date(wholeSeconds).toISOString();
  if (!/^\d{4}-/.test(iso) || iso.startsWith('0000-')) return undefined;
  const utc = iso.slice(0, 19);
  return `${utc}.${frac.padEnd(9, '0')}Z` as Instant;
}

/** From a JavaScript Date (millisecond precision), for the clock. */
export function instantFromDate(date: Date): Instant {
  return `${date.toISOString().slice(0, 23)}000000Z` as Instant;
}

/** To a JavaScript Date, for APIs that take one: sub-millisecond digits are dropped. */
export function instantToDate(at: Instant): Date {
  return new Date(instantMillis(at));
}

/** Milliseconds since the epoch (millisecond precision). */
export function instantMillis(at: Instant): number {
  return Date.parse(at.slice(0, 23) + 'Z');
}

/** An instant `ms` later (millisecond precision). */
export function plusMillis(at: Instant, ms: number): Instant {
  return instantFromDate(new Date(instantMillis(at) + ms));
}

/** An instant `ms` earlier (millisecond precision). */
export function minusMillis(at: Instant, ms: number): Instant {
  return plusMillis(at, -ms);
}

/** Milliseconds between two instants (sub-millisecond digits only matter for ordering). */
export function millisBetween(from: Instant, to: Instant): number {
  return instantMillis(to) - instantMillis(from);
}

export const instantSchema = z.string().transform((text, ctx): Instant => {
  const instant = toInstant(text);
  if (instant === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an RFC 3339 timestamp in years 0001 to 9999 (UTC)',
    });
    return z.NEVER;
  }
  return instant;
});

/** Reads back what we stored: already normalised. */
export const storedInstantSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/)
  .transform((s) => s as Instant);
