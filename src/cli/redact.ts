// Keeps secrets out of the CLI's error lines: tokens in headers, credentials and ?token= in URLs.
import { CliError, EXIT } from './exit-codes';

/** What a bearer token may contain: visible ASCII, as the server's authenticator expects. */
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * The Authorization header for `token`. A token a header cannot carry (a newline from a pasted
 * secret, a space) is refused here, naming where it came from and never its value: fetch's own
 * error quotes the whole header.
 */
export function bearerHeader(token: string, source: string): string {
  if (!TOKEN.test(token)) {
    throw new CliError(
      `${source} is not a usable token: it contains a space, a line break or another character a header cannot carry`,
      EXIT.usage,
    );
  }
  return `Bearer ${token}`;
}

/** The URL with its user name, password and every query value replaced by `***`. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not a URL we can take apart: keep what cannot be a secret.
    return text.replace(/\/\/[^/@\s]*@/, '//***@').replace(/\?.*$/, '?***');
  }
  if (url.username !== '') url.username = '***';
  if (url.password !== '') url.password = '***';
  for (const key of [...new Set(url.searchParams.keys())]) url.searchParams.set(key, '***');
  // URLSearchParams encodes *; the redacted form reads better as typed.
  return url.href.replace(/%2A%2A%2A/g, '***');
}

/** An error message with every given secret (and any URL's credentials and query) redacted. */
export function scrub(message: string, secrets: readonly (string | undefined)[]): string {
  let out = message;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join('***');
  }
  return out.replace(/\bhttps?:\/\/[^\s"']+/g, (url) => redactUrl(url));
}
