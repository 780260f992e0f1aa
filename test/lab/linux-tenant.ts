// What the Linux tenant (guest/tenant-init) reports on its serial log, and the check of its
// records against a file system read from the lab host: every record it reported as written
// (fsynced) must be in the file, intact, and the file must hold nothing else but such records.
import { createHash } from 'node:crypto';
import type { Problems } from './harness.js';
import type { Lab } from './lab.js';

/** "lab-rec DISK SEQ MD5": the record is in DISK's file and fsynced */
export interface ReportedRecord {
  disk: string;
  seq: number;
  sum: string;
}

export function reportedRecords(serial: string): ReportedRecord[] {
  return [...serial.matchAll(/^lab-rec (vd[a-z]) (\d+) ([0-9a-f]{32})\r?$/gm)].map((m) => ({ disk: m[1]!, seq: Number(m[2]), sum: m[3]! }));
}

/** boot numbers the tenant announced ("lab-tenant: writing records (boot N)") */
export function bootsWriting(serial: string): number[] {
  return [...serial.matchAll(/^lab-tenant: writing records \(boot (\d+)\)/gm)].map((m) => Number(m[1]));
}

export const cleanShutdowns = (serial: string): number => [...serial.matchAll(/^lab-tenant: clean shutdown/gm)].length;
export const tenantFailures = (serial: string): string[] => [...serial.matchAll(/^lab-tenant: FAILED: (.*)$/gm)].map((m) => m[1]!);

/** "up N s after the kernel started": the guest's own clock at init, per boot */
export const initUptimes = (serial: string): number[] => [...serial.matchAll(/^lab-tenant: up ([\d.]+) s after the kernel started/gm)].map((m) => Number(m[1]));

export interface RecordFileCheck {
  problems: Problems;
  /** records in the file, per boot number */
  perBoot: Map<number, number>;
  /** records in the file that were never reported (written, then the power went: allowed) */
  unreported: number;
}

/** The records file of one disk against what the tenant reported for that disk. */
export function checkRecordFile(disk: string, text: string, reported: readonly ReportedRecord[]): RecordFileCheck {
  const problems: Problems = [];
  const perBoot = new Map<number, number>();
  const inFile = new Map<number, string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let expectSeq = 1;
  lines.forEach((line, i) => {
    const m = /^(vd[a-z]) (\d+) (\d+) ([\d.]+) (\S+) ([0-9a-f]{32})$/.exec(line);
    if (!m) {
      problems.push(`${disk} records line ${i + 1} is torn or foreign: ${JSON.stringify(line.slice(0, 120))}`);
      return;
    }
    const body = line.slice(0, line.length - 33);
    const sum = createHash('md5').update(body).digest('hex');
    if (sum !== m[6]) problems.push(`${disk} record ${m[2]} fails its checksum`);
    if (m[1] !== disk) problems.push(`${disk} holds a record of ${m[1]}`);
    const seq = Number(m[2]);
    if (seq !== expectSeq) problems.push(`${disk} record ${seq} follows ${expectSeq - 1}: records lost or repeated`);
    expectSeq = seq + 1;
    inFile.set(seq, m[6]!);
    perBoot.set(Number(m[3]), (perBoot.get(Number(m[3])) ?? 0) + 1);
  });
  const mine = reported.filter((r) => r.disk === disk);
  const missing = mine.filter((r) => inFile.get(r.seq) !== r.sum);
  if (missing.length > 0) problems.push(`${disk}: ${missing.length} of the ${mine.length} records reported written are missing or differ (first: ${JSON.stringify(missing[0])})`);
  const reportedSeqs = new Set(mine.map((r) => r.seq));
  return { problems, perBoot, unreported: [...inFile.keys()].filter((s) => !reportedSeqs.has(s)).length };
}

/** e2fsck -f -n of a volume in the lab host (the VM off): problems if it is not clean */
export async function fsckClean(lab: Lab, device: string): Promise<Problems> {
  await lab.guestRun(['blockdev', '--flushbufs', device]);
  const r = await lab.ssh(['e2fsck', '-f', '-n', device], { timeoutMs: 300_000 });
  return r.exitCode === 0 ? [] : [`e2fsck -f -n ${device} exited ${r.exitCode}:\n${(r.stdout + r.stderr).trim()}`];
}

/** the records file of a volume's file system, read with debugfs (nothing mounted) */
export async function readRecords(lab: Lab, device: string): Promise<string> {
  return (await lab.guestRun(['debugfs', '-R', 'cat /records', device], { timeoutMs: 300_000 })).stdout;
}

/** polls the serial log until it shows `what`; returns the log then */
export async function waitForSerial(lab: Lab, name: string, what: string, test: (serial: string) => boolean, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const serial = await lab.serialLog(name);
    const failures = tenantFailures(serial);
    if (failures.length > 0) throw new Error(`${name} failed: ${failures.join('; ')}`);
    if (test(serial)) return serial;
    if (Date.now() > deadline) throw new Error(`${name}'s serial log did not show ${what} within ${timeoutMs / 1000} s; its last lines:\n${serial.split('\n').slice(-8).join('\n')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
