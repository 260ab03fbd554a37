import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StudioError } from '../../src/shared/errors';
import { guardHost, isPrivateAddress } from '../../src/main/security/outboundGuard';

describe('outbound guard: which addresses are not on the internet', () => {
  it(
    'sees IPv4 in IPv6 clothing: mapped (dotted and hex), compatible, NAT64, 6to4, Teredo',
    { timeout: 5000 },
    () => {
      for (const address of [
        '::ffff:127.0.0.1',
        '::ffff:7f00:1', // the same, as the URL parser writes it
        '::FFFF:a9fe:a9fe',
        '::ffff:10.1.2.3',
        '::7f00:1', // IPv4-compatible 127.0.0.1
        '::127.0.0.1',
        '::a9fe:a9fe',
        '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
        '64:ff9b::192.168.1.1',
        '64:ff9b:1::1', // local-use NAT64
        '2002:7f00:1::', // 6to4 of 127.0.0.1
        '2002:c0a8:101::1', // 6to4 of 192.168.1.1
        '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo, client 127.0.0.1 (inverted)
        '::ffff:0:7f00:1', // IPv4-translated
      ]) {
        assert.equal(isPrivateAddress(address), true, address);
      }
      // The same wrappings around public addresses are public.
      for (const address of ['::ffff:8.8.8.8', '::ffff:808:808', '64:ff9b::808:808', '2002:808:808::1']) {
        assert.equal(isPrivateAddress(address), false, address);
      }
    },
  );

  it('knows the IANA special-purpose ranges that are not globally reachable', { timeout: 5000 }, () => {
    for (const address of [
      '192.0.0.8',
      '192.0.2.1',
      '198.18.0.1',
      '198.19.255.254',
      '198.51.100.7',
      '203.0.113.9',
      '255.255.255.255',
      '240.0.0.1',
      'fec0::1',
      'feff::1',
      '2001:db8::1',
      '2001:2::1',
      '100::1',
    ]) {
      assert.equal(isPrivateAddress(address), true, address);
    }
    for (const address of ['198.17.255.255', '198.20.0.1', '192.0.3.1', '203.0.114.1', '2606:4700::1111']) {
      assert.equal(isPrivateAddress(address), false, address);
    }
  });

  it(
    'refuses cloud metadata in any spelling, even where private addresses are allowed',
    { timeout: 5000 },
    async () => {
      for (const host of [
        '169.254.169.254',
        '[::ffff:169.254.169.254]',
        new URL('http://[::ffff:169.254.169.254]/').hostname, // [::ffff:a9fe:a9fe]
        '[::ffff:a9fe:a9fe]',
        '[64:ff9b::a9fe:a9fe]',
        '[2002:a9fe:a9fe::]',
        '[fd00:ec2:0::254]',
        '[FD00:EC2::254]',
        '[::ffff:169.254.170.2]',
      ]) {
        await assert.rejects(
          guardHost(host, { allowPrivateNetwork: true }),
          (error: unknown) => error instanceof StudioError && /cloud metadata/.test(error.message),
          host,
        );
      }
      // A LAN address stays allowed with the flag.
      await guardHost('[::ffff:192.168.1.10]', { allowPrivateNetwork: true });
    },
  );
});
