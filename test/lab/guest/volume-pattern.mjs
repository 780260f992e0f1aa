// Verifiable content for the lab's SAN volumes, run inside the guest with the machine's node.
// Every MiB block is one 64-byte line repeated: "sanshift-lab TAG MiB NNNNNN", so any block
// tells which volume (or which later write) put it there and where it belongs.
//   fill-files DIR NAME:MIB[:BOOTSECTOR] ...  create DIR/NAME.img filled with tag NAME
//   write DEVICE TAG AT_MIB COUNT_MIB [...]     overwrite blocks AT.. with tag TAG, then fsync
//                                               (more quadruples: more ranges, one node start)
//   map DEVICE                                  JSON runs of {tag, fromMiB, toMiB, intact}
// Block 0 of a bootable volume carries a boot sector in its first 512 bytes: map compares
// bytes 512.. of every block, and says "boot": true when block 0 ends its sector with 55 aa.
import { openSync, writeSync, readSync, closeSync, fsyncSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const MiB = 1024 * 1024;
const LINE = 64;

function line(tag, index) {
  const text = `sanshift-lab ${tag} MiB ${String(index).padStart(6, '0')} `;
  if (text.length > LINE - 1) throw new Error(`tag too long: ${tag}`);
  return text.padEnd(LINE - 1, '.') + '\n';
}

function block(tag, index) {
  return Buffer.alloc(MiB, line(tag, index), 'latin1');
}

function fillFiles(dir, specs) {
  for (const spec of specs) {
    const [name, mibText, bootFile] = spec.split(':');
    const mib = Number(mibText);
    if (!name || !Number.isInteger(mib) || mib <= 0) throw new Error(`bad volume spec ${spec}`);
    const fd = openSync(`${dir}/${name}.img`, 'w');
    for (let i = 0; i < mib; i++) {
      const b = block(name, i);
      if (i === 0 && bootFile) readFileSync(bootFile).copy(b, 0, 0, 512);
      writeSync(fd, b, 0, MiB, i * MiB);
    }
    closeSync(fd);
  }
}

function isBlockDevice(path) {
  return statSync(path).isBlockDevice();
}

function write(device, tag, at, count) {
  const fd = openSync(device, 'r+');
  for (let i = at; i < at + count; i++) writeSync(fd, block(tag, i), 0, MiB, i * MiB);
  fsyncSync(fd);
  closeSync(fd);
}

const HEADER = /^sanshift-lab (\S+) MiB (\d{6}) /;

function map(device) {
  // drop cached pages: md writes a leg below its page cache, which could hold older data
  if (isBlockDevice(device)) execFileSync('blockdev', ['--flushbufs', device]);
  const fd = openSync(device, 'r');
  const buf = Buffer.alloc(MiB);
  const runs = [];
  let boot = false;
  for (let i = 0; ; i++) {
    let got = 0;
    while (got < MiB) {
      const n = readSync(fd, buf, got, MiB - got, i * MiB + got);
      if (n === 0) break;
      got += n;
    }
    if (got === 0) break;
    if (i === 0) boot = buf[510] === 0x55 && buf[511] === 0xaa;
    const m = HEADER.exec(buf.toString('latin1', 512, 512 + LINE));
    let tag = '?';
    let intact = false;
    if (m) {
      tag = m[1];
      intact = Number(m[2]) === i && got === MiB && block(tag, i).subarray(512).equals(buf.subarray(512));
    }
    const last = runs[runs.length - 1];
    if (last && last.tag === tag && last.intact === intact && last.toMiB === i) last.toMiB = i + 1;
    else runs.push({ tag, fromMiB: i, toMiB: i + 1, intact });
    if (got < MiB) break;
  }
  closeSync(fd);
  return { device, boot, runs };
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case 'fill-files':
    fillFiles(args[0], args.slice(1));
    break;
  case 'write':
    if (args.length === 0 || args.length % 4 !== 0) throw new Error('write takes DEVICE TAG AT_MIB COUNT_MIB, once or more');
    for (let i = 0; i < args.length; i += 4) write(args[i], args[i + 1], Number(args[i + 2]), Number(args[i + 3]));
    break;
  case 'map':
    process.stdout.write(JSON.stringify(map(args[0])) + '\n');
    break;
  default:
    process.stderr.write('usage: volume-pattern.mjs fill-files|write|map ...\n');
    process.exit(2);
}
