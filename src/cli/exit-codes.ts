// acr-gate's exit codes: each outcome a pipeline may branch on has its own.
export const EXIT = {
  /** The image is in every required region (or the command succeeded). */
  ok: 0,
  /** Something unexpected; the message says what. */
  error: 1,
  /** `wait` ran out of time before the tag was replicated. */
  timeout: 2,
  /** `wait --digest`: the tag moved on to another digest. */
  moved: 3,
  /** Nothing is known of the tag (by the end of `wait`'s timeout). */
  notFound: 4,
  /** The manifest was deleted. */
  deleted: 5,
  /** `verify`: some region's own endpoint does not (yet) serve the whole image. */
  unconfirmed: 6,
  /** Bad arguments or settings (sysexits EX_USAGE). */
  usage: 64,
  /** The service could not be reached or kept failing (EX_UNAVAILABLE). */
  unavailable: 69,
  /** The token was refused (EX_NOPERM). */
  auth: 77,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}
