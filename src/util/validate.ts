// Invariant I6: every device path and domain name is checked here before it can reach a
// command line or a libvirt call. The sets are deliberately narrow.

/** libvirt domain names as operators use them; no shell metacharacters, no slashes, no spaces. */
const DOMAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
/** An absolute path under /dev made of safe segments; no '..', no empty segments. */
const DEVICE_PATH = /^\/dev(\/[A-Za-z0-9][A-Za-z0-9._:+@=-]*)+$/;
/** md array names we create: /dev/md/NAME. */
const MD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
/** Target devs such as vda, sdb, hdc, xvda. */
const TARGET_DEV = /^[a-z]{1,4}[a-z0-9]{1,8}$/;

export function isSafeDomainName(name: string): boolean {
  return DOMAIN_NAME.test(name);
}

export function isSafeDevicePath(path: string): boolean {
  return DEVICE_PATH.test(path) && !path.split('/').includes('..');
}

export function isSafeMdName(name: string): boolean {
  return MD_NAME.test(name);
}

export function isSafeTargetDev(dev: string): boolean {
  return TARGET_DEV.test(dev);
}

export const rules = {
  domainName: 'letters, digits and . _ + - (starting with a letter or digit, at most 128)',
  devicePath: 'an absolute path under /dev made of letters, digits and . _ : + @ = -',
  mdName: 'letters, digits and . _ - (at most 32)',
  targetDev: 'a target dev such as vda or sdb',
} as const;
