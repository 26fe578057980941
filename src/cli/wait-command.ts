// `acr-gate wait`: blocks until the image is in every required region, with progress as it goes.
import type { ApiClient, StatusBody } from './api-client';
import { CliError, EXIT, type ExitCode } from './exit-codes';
import { formatDuration, type ImageReference } from './image-reference';
import { progressLine, imageName } from './render';

export interface WaitOptions {
  timeoutMs: number;
  digest?: string;
  /** Only these regions (a regional rollout); default: every required region. */
  regions?: readonly string[];
  json: boolean;
  /** Rewrite one line in place (a terminal), or print a line per change (CI logs). */
  live: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Longest single long-poll; shorter gives more frequent progress. */
  chunkSeconds?: number;
}

export async function waitCommand(
  api: ApiClient,
  image: ImageReference,
  options: WaitOptions,
): Promise<ExitCode> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const digest = options.digest ?? image.digest ?? undefined;
  const chunk = options.chunkSeconds ?? (options.live ? 5 : 20);
  let last: StatusBody | undefined;
  let lastKey = '';
  let failures = 0;
  const name = `${image.registry}/${image.reference}`;

  /**
   * A terminal line is rewritten whenever its text (and time) moves; a CI log gets a line only
   * when `key`, the line without its time, changes: one line per change, not one per long-poll.
   */
  const report = (line: string, key = line) => {
    if ((options.live ? line : key) === lastKey) return;
    lastKey = options.live ? line : key;
    options.err(options.live ? `\r\x1b[K${line}` : `${line}\n`);
  };
  const finish = (code: ExitCode, message: string): ExitCode => {
    if (options.live) options.err('\r\x1b[K');
    if (options.json && last) options.out(`${JSON.stringify(last, null, 2)}\n`);
    options.err(`${message}\n`);
    return code;
  };

  const scoped = options.regions !== undefined && options.regions.length > 0;
  const where = scoped ? (options.regions ?? []).join(', ') : 'every region';
  report(`waiting for ${name} to reach ${where}${digest ? ` at ${digest}` : ''}`);
  for (;;) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) break;
    const wait = Math.max(1, Math.min(chunk, Math.floor(remainingMs / 1000)));
    let answer;
    try {
      answer = await api.status(image.registry, image.reference, {
        wait,
        ...(digest ? { digest } : {}),
        ...(scoped ? { regions: options.regions } : {}),
      });
      failures = 0;
    } catch (error) {
      // The service restarting or scaling must not fail a deployment: retry until the deadline.
      if (!(error instanceof CliError) || error.exitCode !== EXIT.unavailable) throw error;
      failures += 1;
      report(`${error.message}; retrying (${failures})`);
      await new Promise((resolve) =>
        setTimeout(
          resolve,
          Math.min(1000 * 2 ** failures, 10_000, Math.max(0, deadline - Date.now())),
        ),
      );
      continue;
    }
    if (answer.kind === 'moved') {
      last = answer.status;
      return finish(EXIT.moved, `✗ ${answer.detail}`);
    }
    if (answer.kind === 'not-found') {
      report(
        `${name}: no region has reported it yet (${formatDuration(Date.now() - started)})`,
        `${name}: no region has reported it yet`,
      );
      // The server waited `wait` seconds already unless it answered at once; avoid a hot loop.
      if (Date.now() - started < 1000) await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    last = answer.status;
    if (last.status === 'replicated' && (!digest || last.digest === digest)) {
      return finish(
        EXIT.ok,
        scoped
          ? `✓ ${imageName(last)} is in ${last.requiredRegions.join(', ')} after ${formatDuration(Date.now() - started)}`
          : `✓ ${imageName(last)} is in all ${last.requiredRegions.length} regions (${last.requiredRegions.join(', ')}) after ${formatDuration(Date.now() - started)}`,
      );
    }
    if (last.status === 'deleted' && (!digest || last.digest === digest)) {
      return finish(EXIT.deleted, `✗ ${imageName(last)} was deleted`);
    }
    report(progressLine(last, Date.now() - started), progressLine(last));
  }
  if (!last)
    return finish(
      EXIT.notFound,
      `✗ no region reported ${name} within ${formatDuration(options.timeoutMs)}`,
    );
  return finish(
    EXIT.timeout,
    `✗ timed out after ${formatDuration(options.timeoutMs)}: ${progressLine(last, Date.now() - started)}`,
  );
}
