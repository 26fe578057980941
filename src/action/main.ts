// The GitHub Action (action.yml): runs `acr-gate wait` in-process and reports through @actions/core.
import * as core from '@actions/core';
import { makeApiClient, statusBodySchema, type StatusBody } from '../cli/api-client';
import { CliError, EXIT } from '../cli/exit-codes';
import {
  formatDuration,
  parseDuration,
  parseImageReference,
  type ImageReference,
} from '../cli/image-reference';
import { imageName, regionRows } from '../cli/render';
import { waitCommand } from '../cli/wait-command';
import { regionNameSchema } from '../replication/names';

/** The `status` output: the tag's status, or what ended the wait without one. */
type OutcomeStatus = StatusBody['status'] | 'moved' | 'not-found';

interface Inputs {
  image: ImageReference;
  url: string;
  token: string | undefined;
  timeoutMs: number;
  regions: string[] | undefined;
}

/** Each bad input fails the step with one line that names it. */
function readInputs(): Inputs {
  const named = <T>(input: string, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      throw new CliError(`${input}: ${(error as Error).message}`, EXIT.usage);
    }
  };
  const imageText = core.getInput('image');
  if (imageText === '') {
    throw new CliError(
      'image: required (registry/repository:tag or registry/repository@sha256:…)',
      EXIT.usage,
    );
  }
  const image = named('image', () => parseImageReference(imageText));
  const url = core.getInput('url') || process.env.ACR_GATE_URL || '';
  if (!/^https?:\/\/[^/]/.test(url)) {
    throw new CliError(
      url === ''
        ? 'url: required (the gate API base including /api, or ACR_GATE_URL)'
        : `url: "${url}" is not an http(s) URL`,
      EXIT.usage,
    );
  }
  const token = core.getInput('token') || process.env.ACR_GATE_TOKEN || undefined;
  if (token) core.setSecret(token);
  const timeoutText = core.getInput('timeout') || '15m';
  const timeoutMs = named('timeout', () => parseDuration(timeoutText));
  if (timeoutMs <= 0)
    throw new CliError(`timeout: "${timeoutText}" must be more than zero`, EXIT.usage);
  const regionsText = core.getInput('regions');
  const regions =
    regionsText === ''
      ? undefined
      : regionsText
          .split(',')
          .map((region) => region.trim())
          .filter(Boolean)
          .map((region) => {
            const parsed = regionNameSchema.safeParse(region);
            if (!parsed.success) {
              throw new CliError(
                `regions: "${region}" ${parsed.error.issues[0]?.message ?? 'is not a region name'}`,
                EXIT.usage,
              );
            }
            return parsed.data;
          });
  return { image, url, token, timeoutMs, regions };
}

const missingOf = (s: StatusBody): string[] =>
  s.missingRegions.length > 0
    ? s.missingRegions
    : s.regions.filter((r) => r.required && r.status !== 'arrived').map((r) => r.region);

async function writeSummary(
  name: string,
  status: OutcomeStatus,
  last: StatusBody | undefined,
  durationMs: number,
): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  const summary = core.summary
    .addHeading('ACR replication gate', 3)
    .addRaw(`<code>${escape(last ? imageName(last) : name)}</code>: <b>${status}</b>`, true)
    .addRaw(
      `digest <code>${escape(last?.digest ?? '-')}</code>, pushed ${last?.pushedAt ?? '-'}, ` +
        `replicated ${last?.replicatedAt ?? '-'}, waited ${formatDuration(durationMs)}`,
      true,
    );
  if (last && last.regions.length > 0) {
    const header = ['Region', 'Status', 'Digest', 'Arrived', 'Lag'].map((data) => ({
      data,
      header: true,
    }));
    summary.addTable([header, ...regionRows(last).map((row) => row.map(escape))]);
  }
  await summary.write();
}

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function runAction(): Promise<void> {
  try {
    const inputs = readInputs();
    const name = `${inputs.image.registry}/${inputs.image.reference}`;
    const api = makeApiClient({ url: inputs.url, token: inputs.token });
    let json = '';
    let lastLine = '';
    const started = Date.now();
    const code = await waitCommand(api, inputs.image, {
      timeoutMs: inputs.timeoutMs,
      ...(inputs.regions ? { regions: inputs.regions } : {}),
      json: true,
      live: false,
      // Each long-poll returns at once when the tag is replicated; between two, a progress line
      // (when something changed) at most every 10 s.
      chunkSeconds: 10,
      out: (text) => (json += text),
      err: (text) => {
        lastLine = text.trim();
        if (lastLine !== '') core.info(lastLine);
      },
    });
    const durationMs = Date.now() - started;
    const last = json.trim() === '' ? undefined : statusBodySchema.parse(JSON.parse(json));
    const status: OutcomeStatus =
      code === EXIT.moved
        ? 'moved'
        : (last?.status ?? (code === EXIT.ok ? 'replicated' : 'not-found'));
    core.setOutput('status', status);
    core.setOutput('digest', last?.digest ?? '');
    core.setOutput('replicated-at', last?.replicatedAt ?? '');
    core.setOutput('duration-ms', String(durationMs));
    await writeSummary(name, status, last, durationMs);

    if (code === EXIT.ok) return;
    const missing = last ? missingOf(last) : [];
    const missingText = missing.length > 0 ? `; missing ${missing.join(', ')}` : '';
    if (code === EXIT.timeout) {
      core.setFailed(
        `${name} is not in every region after ${formatDuration(inputs.timeoutMs)}${missingText}`,
      );
    } else if (code === EXIT.deleted) {
      core.setFailed(`${name} was deleted${missingText}`);
    } else if (code === EXIT.notFound) {
      core.setFailed(
        `no region reported ${name} within ${formatDuration(inputs.timeoutMs)}; missing every region`,
      );
    } else {
      core.setFailed(lastLine.replace(/^✗ /, '') || `${name}: exit ${code}`);
    }
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error));
  }
}

void runAction();
