// Which destinations the outbound guard refuses, and when it is on by default.
import { describe, expect, it } from 'vitest';
import { blockedReason, runsInAzure } from '../../src/net/outbound-guard';

describe('blockedReason', () => {
  it.each([
    ['127.0.0.1', /loopback/],
    ['127.1.2.3', /loopback/],
    ['::1', /loopback/],
    ['[::1]', /loopback/],
    ['10.1.2.3', /private/],
    ['172.16.0.1', /private/],
    ['192.168.1.1', /private/],
    ['fd00:ec2::254', /private/],
    ['169.254.169.254', /link-local/],
    ['fe80::1', /link-local/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['0.0.0.0', /unspecified/],
    ['::', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['192.0.2.10', /reserved/],
    // IPv4-mapped IPv6 is the IPv4 address it carries.
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:169.254.169.254', /link-local/],
    ['::ffff:a9fe:a9fe', /link-local/],
    // Ways to reach IPv4 behind IPv6.
    ['64:ff9b::a9fe:a9fe', /reserved/],
    ['2002:7f00:1::1', /reserved/],
    ['not-an-address', /not an IP address/],
  ])('refuses %s', (address, reason) => {
    expect(blockedReason(address)).toMatch(reason);
  });

  it.each(['8.8.8.8', '20.50.2.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'lets %s through',
    (address) => {
      expect(blockedReason(address)).toBeUndefined();
    },
  );
});

describe('runsInAzure', () => {
  it('is true on App Service and Functions hosts, false locally', () => {
    expect(runsInAzure({ WEBSITE_INSTANCE_ID: 'abc' })).toBe(true);
    expect(runsInAzure({ FUNCTIONS_WORKER_RUNTIME: 'node', WEBSITE_SITE_NAME: 'gate' })).toBe(true);
    // Core Tools sets the worker runtime, not the site.
    expect(runsInAzure({ FUNCTIONS_WORKER_RUNTIME: 'node' })).toBe(false);
    expect(runsInAzure({})).toBe(false);
  });
});
