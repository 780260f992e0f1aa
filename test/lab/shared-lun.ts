// The SAN LUN that several lab hosts see: one sparse file on this machine, attached to every
// lab guest as a virtio disk (lab.ts, sharedDisks). It must live on a file system that takes
// O_DIRECT (cache=none): this machine's disk, not a tmpfs.
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_WORK } from './lab.js';

/** Makes DIR/SERIAL.img: zeros, with the no-OS tenants' halting boot sector in block 0 (the VM
 * on the LUN boots it). */
export function createSharedLun(dir: string, lun: { serial: string; sizeMiB: number }): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${lun.serial}.img`);
  const fd = openSync(file, 'w');
  ftruncateSync(fd, lun.sizeMiB * 1024 * 1024);
  writeSync(fd, readFileSync(join(LAB_WORK, 'halt.bin')), 0, 512, 0);
  closeSync(fd);
  return file;
}
