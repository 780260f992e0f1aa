// The outputs the lab scenarios and smoke test captured on the real stack
// (fixtures/lab-captures): the parsers read every one, and the simulated host, put in the same
// state, prints /proc/mdstat and mdadm --detail line for line alike, apart from the values that
// move with time (progress, speed, ETA, creation time).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parseMdDetail } from '../../src/host/mddetail.js';
import { parseMdstat, type MdstatArray } from '../../src/host/mdstat.js';
import { SimulatedHost, type SimVolumeSpec } from '../../src/host/simulated.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'lab-captures');
const read = (name: string): string => readFileSync(join(DIR, name), 'utf8');
const names = (pattern: RegExp): string[] => readdirSync(DIR).filter((f) => pattern.test(f)).sort();

/** a "$ command / output / [exit N]" capture's output; a bare capture as it is */
function outputOf(text: string): string {
  if (!text.startsWith('$ ')) return text;
  const lines = text.split('\n');
  const exit = lines.findIndex((l) => /^\[exit \d+\]$/.test(l));
  return `${lines.slice(1, exit).join('\n')}\n`;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** line-for-line equality, with the values that legitimately differ turned into patterns */
function sameShape(actual: string, expected: string): void {
  const a = actual.split('\n');
  const e = expected.split('\n');
  expect(a.length).toBe(e.length);
  e.forEach((line, i) => {
    const marked = line
      .replace(/\[[=>.]{21}\]/, '\u0001BAR\u0001')
      .replace(/(recovery|resync) =\s*\d+\.\d%/, '$1 =\u0001PCT\u0001')
      .replace(/\((\d+)\/(\d+)\) finish=\d+\.\dmin speed=\d+K\/sec/, '(\u0001N\u0001/$2) finish=\u0001ETA\u0001min speed=\u0001N\u0001K/sec')
      .replace(/(Rebuild Status : )\d+%/, '$1\u0001N\u0001%')
      .replace(/(Creation Time : ).*$/, '$1\u0001ANY\u0001');
    const pattern = escape(marked)
      .replace(/\u0001BAR\u0001/g, '\\[[=>.]{21}\\]')
      .replace(/\u0001PCT\u0001/g, ' *\\d+\\.\\d%')
      .replace(/\u0001ETA\u0001/g, '\\d+\\.\\d')
      .replace(/\u0001ANY\u0001/g, '.*')
      .replace(/\u0001N\u0001/g, '\\d+');
    expect({ line: i, text: a[i] }).toEqual({ line: i, text: expect.stringMatching(new RegExp(`^${pattern}$`)) });
  });
}

const mdstatCaptures = names(/mdstat.*\.txt$|\.mdstat\.txt$/);
const detailCaptures = names(/\.detail\.txt$/);

describe('lab captures: the parsers read what the real stack printed', () => {
  it('has captures to check', () => {
    expect(mdstatCaptures.length).toBeGreaterThan(3);
    expect(detailCaptures.length).toBeGreaterThan(1);
  });

  it.each(mdstatCaptures)('%s parses, every array and member accounted for', (name) => {
    const text = read(name);
    const parsed = parseMdstat(text);
    const headers = [...text.matchAll(/^(md\d+) : active (?:\([a-z-]+\) )?raid1 (.*)$/gm)];
    expect(parsed.arrays.map((a) => a.kernelName)).toEqual(headers.map((h) => h[1]));
    parsed.arrays.forEach((a, i) => {
      expect(a.members.map((m) => `${m.kname}[${m.number}]`).join(' ')).toBe(headers[i]![2]!.trim());
      expect(a.superblock).toBe('non-persistent');
      // recovering exactly when the capture says so, and then with sane numbers
      expect(a.progress !== null).toBe(new RegExp(`^${a.kernelName} :[^\\n]*\\n[^\\n]*\\n[^\\n]*recovery =`, 'm').test(text));
      if (a.progress) expect(a.progress.doneKiB).toBeLessThanOrEqual(a.progress.totalKiB);
    });
  });

  it.each(detailCaptures)('%s parses', (name) => {
    const d = parseMdDetail(outputOf(read(name)));
    expect(d.raidLevel).toBe('raid1');
    expect(d.devices.length).toBeGreaterThan(0);
  });
});

/** Puts a simulated host in the state of an mdstat capture: the same arrays built oldest
 * first (so the kernel names come out the same), the same legs added, the arrays in sync
 * copied through, the recovering ones held at a crawl. */
async function replayState(mdstat: string): Promise<SimulatedHost | null> {
  const arrays = parseMdstat(mdstat).arrays;
  // the simulated host names arrays md127 downwards, as the kernel does on a fresh host
  if (!arrays.every((a, i) => a.kernelName === `md${127 - (arrays.length - 1 - i)}`)) return null;
  let now = Date.UTC(2026, 10, 24, 3, 0, 0);
  const volumes: SimVolumeSpec[] = [];
  for (const a of arrays) for (const m of a.members) volumes.push({ path: `/dev/mapper/lab-${m.kname}`, kname: m.kname, sizeBytes: (a.blocks ?? 0) * 1024 });
  const host = new SimulatedHost({ now: () => now, volumes });
  const oldest = [...arrays].reverse();
  const leg = (a: MdstatArray, number: number) => a.members.find((m) => m.number === number);
  for (const [i, a] of oldest.entries()) {
    const md = `/dev/md/ss-lab-${i}`;
    const old = leg(a, 0)!;
    expect((await host.run(['mdadm', '--build', md, '--level', '1', '--raid-disks=2', `/dev/mapper/lab-${old.kname}`, 'missing'])).exitCode).toBe(0);
    const recovering = a.progress !== null;
    await host.run(['tee', `/sys/block/${a.kernelName}/md/sync_speed_max`], { input: recovering ? '1000\n' : '200000\n' });
    const added = leg(a, 2);
    if (added) expect((await host.run(['mdadm', '--add', md, `/dev/mapper/lab-${added.kname}`])).exitCode).toBe(0);
    // md's start_ro: a built array stays auto-read-only until its first write (or a joining
    // leg); a capture without the flag had a guest running on it, so the replay writes once
    else if (a.readOnly === null) host.write(md, 8);
  }
  now += 2000;
  return host;
}

describe('lab captures: the simulated host prints the same state the same way', () => {
  const replayable = mdstatCaptures.filter((n) => parseMdstat(read(n)).arrays.length > 0);

  it.each(replayable)('%s', async (name) => {
    const expected = read(name);
    const host = await replayState(expected);
    if (host === null) {
      // kernel names left by earlier arrays: the shape is still checked, by the parser test
      expect(parseMdstat(expected).arrays.length).toBeGreaterThan(0);
      return;
    }
    sameShape((await host.run(['cat', '/proc/mdstat'])).stdout, expected);
    const detail = name.replace(/\.mdstat\.txt$/, '.detail.txt');
    if (detailCaptures.includes(detail)) {
      const text = read(detail);
      const mirror = /^\$ mdadm --detail (\S+)$/m.exec(text)?.[1];
      if (mirror !== undefined) {
        // the captured mirror is the one whose old leg the detail lists as number 0
        const oldDev = /^\s+0\s+\d+\s+\d+\s+0\s+active sync\s+\/dev\/(\S+)$/m.exec(text)?.[1];
        const arrays = [...parseMdstat(expected).arrays].reverse();
        const index = arrays.findIndex((a) => a.members.some((m) => m.number === 0 && m.kname === oldDev));
        expect(index).toBeGreaterThanOrEqual(0);
        const simulated = (await host.run(['mdadm', '--detail', `/dev/md/ss-lab-${index}`])).stdout.replace(`/dev/md/ss-lab-${index}:`, `${mirror}:`);
        sameShape(simulated, outputOf(text));
      }
    }
  });
});
