// Maps @azure/cosmos failures to values the use cases understand.
import { ErrorResponse, type Container } from '@azure/cosmos';
import type { z } from 'zod';
import {
  type SaveResult,
  InvalidContinuationTokenError,
  StoreUnavailableError,
  StoredItemMalformedError,
} from '../app/ports';

export function statusOf(error: unknown): number | undefined {
  if (!(error instanceof ErrorResponse) && (typeof error !== 'object' || error === null)) {
    return undefined;
  }
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  if (typeof statusCode === 'number') return statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** Anything but an expected status is the store being unavailable (timeouts, 5xx, throttling, network). */
export async function guard<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (
      error instanceof StoreUnavailableError ||
      error instanceof InvalidContinuationTokenError ||
      error instanceof StoredItemMalformedError
    ) {
      throw error;
    }
    const status = statusOf(error);
    const detail = status === undefined ? String((error as Error).message) : `status ${status}`;
    throw new StoreUnavailableError(`Cosmos DB ${what} failed: ${detail}`, { cause: error });
  }
}

const describeItem = (doc: unknown): string => {
  const { pk, id } = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<
    string,
    unknown
  >;
  return `${String(pk)} ${String(id)}`;
};

/** Documents read back are validated like any other input. */
export function parse<T>(schema: z.ZodType<T>, doc: unknown, what: string): T {
  const parsed = schema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StoredItemMalformedError(
      `stored ${what} ${describeItem(doc)} is malformed: ${issue?.path.join('.')}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/**
 * For lists and queries: one unreadable item must not hide the others. It is skipped and
 * reported (an alert in the logs), and the rest is returned.
 */
export function readEach<T>(
  docs: readonly unknown[],
  read: (doc: unknown) => T,
  report: (message: string) => void = (message) => console.error(`ALERT ${message}`),
): T[] {
  const out: T[] = [];
  for (const doc of docs) {
    try {
      out.push(read(doc));
    } catch (error) {
      if (!(error instanceof StoredItemMalformedError)) throw error;
      report(`${error.message} (skipped)`);
    }
  }
  return out;
}

/** Creates, treating "already exists" (409) as done: every id we create is stable. */
export async function createIdempotent(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (statusOf(error) !== 409) throw error;
  }
}

/** A conditional write lost the race (409 on create, 412 on if-match): the caller reads again. */
export const isConflict = (error: unknown): boolean => {
  const status = statusOf(error);
  return status === 409 || status === 412;
};

/** Replaces a document only if it is still at `etag`; someone else's write in between is a conflict. */
export async function replaceIfMatch(
  container: Container,
  doc: { id: string; pk: string },
  etag: string,
): Promise<SaveResult> {
  try {
    const response = await container.item(doc.id, doc.pk).replace(doc, {
      accessCondition: { type: 'IfMatch', condition: etag },
    });
    return { ok: true, etag: response.etag };
  } catch (error) {
    if (isConflict(error)) return { ok: false, reason: 'conflict' };
    throw error;
  }
}
