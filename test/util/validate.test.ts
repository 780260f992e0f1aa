import { describe, expect, it } from '@jest/globals';
import { isSafeDevicePath, isSafeDomainName, isSafeTargetDev } from '../../src/util/validate.js';

describe('validate', () => {
  it.each(['db1', 'web-01.prod', 'a_b+c'])('accepts the domain name %s', (n) => {
    expect(isSafeDomainName(n)).toBe(true);
  });
  it.each(['', 'a;rm -rf /', '$(id)', 'a b', '-x', 'a/b', 'a`b`', "a'b"])('refuses the domain name %j', (n) => {
    expect(isSafeDomainName(n)).toBe(false);
  });
  it.each(['/dev/mapper/old-db1', '/dev/md/ss-db1-vda', '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', '/dev/sdb'])(
    'accepts the device path %s',
    (p) => expect(isSafeDevicePath(p)).toBe(true),
  );
  it.each(['dev/sdb', '/dev/../etc/passwd', '/dev/sdb;reboot', '/dev//sdb', '/tmp/x', '/dev/sd b', '/dev/$(id)', '/dev'])(
    'refuses the device path %j',
    (p) => expect(isSafeDevicePath(p)).toBe(false),
  );
  it('knows target devs', () => {
    expect(isSafeTargetDev('vda')).toBe(true);
    expect(isSafeTargetDev('vda;')).toBe(false);
  });
});
