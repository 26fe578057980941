// Maps @azure/cosmos failures to values the use cases understand.
import { ErrorResponse } from '@azure/cosmos';
import type { z } from 'zod';
import { InvalidContinuationTokenError, StoreUnavailableError } from '../app/ports';

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
    if (error instanceof StoreUnavailableError || error instanceof InvalidContinuationTokenError) {
      throw error;
    }
    const status = statusOf(error);
    const detail = status === undefined ? String((error as Error).message) : `status ${status}`;
    throw new StoreUnavailableError(`Cosmos DB ${what} failed: ${detail}`, { cause: error });
  }
}

/** Documents read back are validated like any other input. */
export function parse<T>(schema: z.ZodType<T>, doc: unknown, what: string): T {
  const parsed = schema.safeParse(doc);
  if (!parsed.success) {
    throw new StoreUnavailableError(
      `stored ${what} is malformed: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
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
