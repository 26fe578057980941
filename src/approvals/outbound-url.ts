// Where the gate may POST an answer that a caller named (Azure Pipelines' PlanUrl): https, on allowed hosts.
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * `hosts` are exact host names or `*.suffix` (any subdomain, not the bare suffix). http:// is
 * accepted only for a loopback host listed exactly (a test's stand-in), never by a wildcard.
 * The outbound guard (src/net/outbound-guard.ts) then refuses private and loopback addresses.
 */
export function checkOutboundUrl(text: string, hosts: readonly string[]): UrlCheck {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'is not an absolute URL' };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'must not carry credentials' };
  }
  const host = url.hostname.toLowerCase();
  const listed = hosts.some((h) => h.toLowerCase() === host);
  const matched =
    listed ||
    hosts.some(
      (h) =>
        h.startsWith('*.') && host.endsWith(h.slice(1).toLowerCase()) && host.length > h.length - 1,
    );
  if (!matched) {
    return { ok: false, reason: `host ${host} is not allowed (allowed: ${hosts.join(', ')})` };
  }
  if (url.protocol === 'https:') return { ok: true, url };
  if (url.protocol === 'http:' && listed && LOOPBACK.has(host)) return { ok: true, url };
  return { ok: false, reason: 'must be an https URL' };
}
