// The event feed's cursor: issued with each listed event, taken back as `after`. Only the stores
// (this adapter and the in-memory one of the tests) know what is inside.
import { InvalidEventCursorError, type EventCursor } from '../app/ports';

/** An event's place in the feed: `recordedAt|id` (fixed-width instants, so string order is time order). */
const SORT_KEY = /^\d{4}-\d{2}-\d{2}T[\d:.]+Z\|[\w-]+$/;

/** Inside: the sort key of the last event the reader saw, base64url. */
export const toCursor = (sortKey: string): EventCursor =>
  Buffer.from(sortKey, 'utf8').toString('base64url') as EventCursor;

/** The sort key to list after; throws InvalidEventCursorError for a cursor not made by toCursor. */
export function sortKeyAfter(cursor: EventCursor): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!SORT_KEY.test(text)) throw new InvalidEventCursorError('not a cursor this store issued');
  return text;
}

/** What `latest` filters a registry's events on: their CloudEvents `source` (src/events/replicated-event.ts). */
export const registrySource = (registry: string): string => `/registries/${registry}`;
