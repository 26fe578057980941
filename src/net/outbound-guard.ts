// Refuses outbound calls to caller-supplied URLs that reach loopback, private, link-local or metadata addresses.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
// undici (0.4 MiB bundled) loads on the first guarded call, not at start: most instances make none.
import type * as Undici from 'undici';

/**
 * Why `address` may not be called, or undefined when it is a public unicast address. Only
 * ipaddr.js's `unicast` range passes: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7,
 * so fd00:ec2::254 too), link-local (169.254/16 with the metadata endpoint 169.254.169.254,
 * fe80::/10), carrier-grade NAT (100.64/10), unspecified, multicast, broadcast, documentation and
 * reserved ranges are refused. IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address
 * it carries; NAT64, 6to4 and Teredo, which can also reach IPv4 behind them, are refused.
 */
export function blockedReason(address: string): string | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(bare)) return `${address} is not an IP address`;
  const parsed = ipaddr.process(bare);
  const range = parsed.range();
  return range === 'unicast' ? undefined : `${parsed.toString()} is ${describeRange(range)}`;
}

const RANGE_NAMES: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  uniqueLocal: 'a private (unique local) address',
  linkLocal: 'a link-local address (cloud metadata lives there)',
  carrierGradeNat: 'a carrier-grade NAT address',
  unspecified: 'the unspecified address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
};

const describeRange = (range: string): string => RANGE_NAMES[range] ?? `reserved (${range})`;

/** What a refused call fails with; fetch wraps it as the `cause` of its TypeError. */
export class BlockedDestinationError extends Error {
  override readonly name = 'BlockedDestinationError';
  readonly code = 'EBLOCKEDDESTINATION';
  constructor(hostname: string, reason: string) {
    super(`refused to connect to ${hostname}: ${reason} (OUTBOUND_GUARD)`);
  }
}

/** Resolves a host name to every address it has; a port so tests can stand in for DNS. */
export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses);
    });
  });

/** The first refused address among what `hostname` resolves to, if any. */
async function firstBlocked(
  hostname: string,
  resolve: Resolve,
): Promise<{ address: string; reason: string } | undefined> {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  const addresses = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await resolve(bare);
  for (const { address } of addresses) {
    const reason = blockedReason(address);
    if (reason !== undefined) return { address, reason };
  }
  return undefined;
}

export type GuardedFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface OutboundGuard {
  readonly enabled: boolean;
  /** fetch, connecting only to addresses that pass: checked on every connection, after DNS. */
  fetch: GuardedFetch;
  /**
   * Why a URL would be refused now, for a 400 at creation; undefined when it would not (or its
   * name does not resolve yet: the attempt decides then). Every attempt is checked again anyway.
   */
  refusal(url: string): Promise<string | undefined>;
}

/**
 * The guard for every outbound call the gate makes to a URL a caller supplied (subscriptions;
 * later the GitHub and Azure Pipelines callbacks). Enabled, it connects through an undici Agent
 * whose connector resolves the name itself, refuses if any address is blocked, and connects to
 * the very address it checked, so a name that changes between check and connect (DNS rebinding)
 * cannot slip through; an IP literal is checked as is. Disabled, it is plain fetch.
 */
export function makeOutboundGuard(options: { enabled: boolean; resolve?: Resolve }): OutboundGuard {
  if (!options.enabled) {
    return {
      enabled: false,
      fetch: (url, init) => fetch(url, init),
      refusal: () => Promise.resolve(undefined),
    };
  }
  const resolve = options.resolve ?? systemResolve;
  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    resolve(hostname).then(
      (addresses) => {
        const blocked = addresses
          .map(({ address }) => ({ address, reason: blockedReason(address) }))
          .find((a) => a.reason !== undefined);
        if (blocked?.reason !== undefined) {
          callback(new BlockedDestinationError(hostname, blocked.reason), '', 4);
          return;
        }
        const wanted = addresses.filter(
          (a) => !lookupOptions.family || a.family === lookupOptions.family,
        );
        if (lookupOptions.all) {
          (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, wanted);
          return;
        }
        const first = wanted[0];
        if (!first) {
          const error: NodeJS.ErrnoException = new Error(`no address for ${hostname}`);
          error.code = 'ENOTFOUND';
          callback(error, '', 4);
          return;
        }
        callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 4),
    );
  };
  const withUndici = ({ Agent, buildConnector, fetch }: typeof Undici) => {
    const connect = buildConnector({ lookup });
    const dispatcher = new Agent({
      connect: (connectOptions, callback) => {
        // An IP literal never goes through lookup: judge it here.
        const reason = isIP(connectOptions.hostname.replace(/^\[(.*)\]$/, '$1'))
          ? blockedReason(connectOptions.hostname)
          : undefined;
        if (reason !== undefined) {
          callback(new BlockedDestinationError(connectOptions.hostname, reason), null);
          return;
        }
        connect(connectOptions, callback);
      },
    });
    return { dispatcher, fetch };
  };
  let undici: Promise<ReturnType<typeof withUndici>> | undefined;
  return {
    enabled: true,
    fetch: async (url, init) => {
      const { dispatcher, fetch } = await (undici ??= import('undici').then(withUndici));
      return fetch(url, { ...(init as Parameters<typeof fetch>[1]), dispatcher });
    },
    refusal: async (url) => {
      const { hostname } = new URL(url);
      try {
        const blocked = await firstBlocked(hostname, resolve);
        return blocked && new BlockedDestinationError(hostname, blocked.reason).message;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Whether the gate runs in Azure (App Service / Functions set WEBSITE_INSTANCE_ID; Functions also
 * sets FUNCTIONS_WORKER_RUNTIME with WEBSITE_SITE_NAME), where the guard is on unless turned off.
 */
export function runsInAzure(env: NodeJS.ProcessEnv): boolean {
  return (
    Boolean(env.WEBSITE_INSTANCE_ID) ||
    (Boolean(env.FUNCTIONS_WORKER_RUNTIME) && Boolean(env.WEBSITE_SITE_NAME))
  );
}
