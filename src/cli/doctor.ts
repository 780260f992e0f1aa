// `sanshift doctor`: scans the hosts for what a crash or a manual step can leave behind (md
// arrays over inventory volumes, definitions on /dev/md, sanshift's record with no journal here,
// new volumes in use, leases and claims of dead runs) and prints each finding with the safe
// commands that resolve it. It reads, and runs nothing it prints.
import { hostname } from 'node:os';
import type { Argv } from 'yargs';
import { factsByVm } from '../engine/facts.js';
import { diagnose, type DoctorNote, type DoctorReport, type Finding, type Fix } from '../engine/doctor.js';
import { scanFleet, type HostFigures } from '../engine/doctor-scan.js';
import { readAllJournals } from '../engine/journal.js';
import { processAlive, readClaims } from '../engine/lock.js';
import { shellJoin, shellQuote } from '../host/quote.js';
import { loadInventory } from '../inventory/load.js';
import { InputError, InputErrorCode } from '../util/errors.js';
import { arg, type CliCommand } from './command.js';
import { openSession, REHEARSAL_BANNER, stateDirFor } from './common.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';
import { selectedNames, selectionArgs, withSelection, type SelectionArgs } from './selection.js';

export interface DoctorArgs {
  inventory: string;
  vm: string[];
  json: boolean;
  stateDir?: string;
  selection?: SelectionArgs;
  quiet?: boolean;
  verbose?: boolean;
  /** print this VM's original definition from the journal, and read no host */
  original?: string;
}

/** A fix as one line a person can paste: the argv quoted for a POSIX shell. */
export function fixCommand(f: Fix): string {
  return `${shellJoin(f.argv)}${f.stdoutTo === undefined ? '' : ` > ${shellQuote(f.stdoutTo)}`}`;
}

/** Words wrapped at `width`, every line after the first indented by `indent`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => `${indent}${l}`).join('\n');
}

export function renderFinding(f: Finding, n: number, width: number): string {
  const where = f.host === null ? 'here' : f.host;
  const out = [`${n}. ${where}: ${f.kind}: ${f.subject}`, wrap(f.detail, width, '   ')];
  for (const fix of f.fixes) {
    out.push(`   ${fix.on === null ? 'run here:' : `run on ${fix.on}:`} ${fixCommand(fix)}`);
    out.push(wrap(fix.why, width, '       '));
  }
  if (f.fixes.length === 0 && f.kind !== 'host-not-read') out.push('   (no command: see above)');
  return out.join('\n');
}

export function renderFigures(figures: readonly HostFigures[]): string {
  return figures
    .map((h) => `${h.host}: ${h.hostCommands} host command${h.hostCommands === 1 ? '' : 's'}, ${h.libvirtCalls} libvirt call${h.libvirtCalls === 1 ? '' : 's'} (2 listings, ${h.domains} persistent and ${h.running} live definition${h.running === 1 ? '' : 's'}), ${h.paths} path${h.paths === 1 ? '' : 's'} probed, ${h.ms} ms`)
    .map((l) => `${l}\n`)
    .join('');
}

export function renderDoctorText(report: DoctorReport, figures: readonly HostFigures[], opts: { width: number; verbose: boolean }): string {
  const width = Math.max(60, Math.min(opts.width, 110));
  const parts: string[] = [];
  const hosts = figures.length;
  report.findings.forEach((f, i) => parts.push(renderFinding(f, i + 1, width)));
  if (report.notes.length > 0) parts.push(['in progress (nothing to do):', ...report.notes.map((n: DoctorNote) => wrap(`${n.host === null ? 'here' : n.host}: ${n.text}`, width, '  '))].join('\n'));
  const n = report.findings.length;
  const summary =
    n === 0
      ? `nothing left behind on ${hosts} host${hosts === 1 ? '' : 's'}`
      : `${n} finding${n === 1 ? '' : 's'} on ${hosts} host${hosts === 1 ? '' : 's'} scanned: nothing was run; each command above is for you to check and run`;
  parts.push(`${opts.verbose ? renderFigures(figures) : ''}${summary}`);
  return `${parts.join('\n\n')}\n`;
}

export function renderDoctorJson(report: DoctorReport, figures: readonly HostFigures[]): string {
  const findings = report.findings.map((f) => ({ ...f, fixes: f.fixes.map((x) => ({ ...x, command: fixCommand(x) })) }));
  return `${JSON.stringify({ findings, notes: report.notes, hosts: figures }, null, 2)}\n`;
}

/** `--original VM`: the definition the journal recorded before sanshift first changed VM. */
async function printOriginal(args: DoctorArgs & { original: string }, io: Io): Promise<number> {
  // the inventory is read so that a wrong -i fails here, not silently in the wrong state folder
  await loadInventory(args.inventory);
  const stateDir = stateDirFor(args.inventory, args.stateDir);
  const xml = factsByVm(readAllJournals(stateDir))(args.original).originalXml;
  if (xml === null) {
    throw InputError.one({ code: InputErrorCode.notFound, message: `no original definition of ${args.original} in the journals of ${stateDir}`, hint: 'a journal records it before sanshift first changes a VM; check the name and --state-dir' });
  }
  io.out(xml.endsWith('\n') ? xml : `${xml}\n`);
  return ExitCode.ok;
}

export async function doctorCommand(args: DoctorArgs, io: Io): Promise<number> {
  if (args.original !== undefined) return printOriginal({ ...args, original: args.original }, io);
  const session = await openSession(args.inventory, args.stateDir);
  try {
    const inv = session.inventory;
    const names = selectedNames(inv, args.vm, args.selection ?? { limit: [], exclude: [], failed: false }, session.stateDir);
    const selected = names.length === 0 ? null : new Set(names);
    // the hosts of the VMs selected, in the inventory's order; every host when none is named
    const hosts = Object.keys(inv.hosts).filter((h) => selected === null || inv.vms.some((v) => v.host === h && selected.has(v.name)));
    const records = readAllJournals(session.stateDir);
    const { scans, figures, parsed } = await scanFleet(inv, session.connections, hosts, factsByVm(records));
    const report = diagnose({
      inventory: inv,
      selected,
      scans,
      records,
      claims: readClaims(session.stateDir),
      machine: hostname(),
      alive: processAlive,
      command: { inventory: args.inventory, ...(args.stateDir === undefined ? {} : { stateDir: args.stateDir }) },
      stateDir: session.stateDir,
      parsed,
    });
    if (args.json) io.out(renderDoctorJson(report, figures));
    else {
      if (session.connections.rehearsal && args.quiet !== true) io.out(REHEARSAL_BANNER);
      io.out(renderDoctorText(report, figures, { width: io.columns, verbose: args.verbose === true }));
    }
    return report.findings.length === 0 ? ExitCode.ok : ExitCode.failed;
  } finally {
    await session.connections.close();
  }
}

export const doctorCli: CliCommand = {
  command: 'doctor [vm..]',
  describe: 'find what a crash or a manual step left on the hosts, and print the safe command for each (runs none)',
  builder: (y: Argv) =>
    withSelection(y)
      .positional('vm', { type: 'string', array: true, default: [], describe: 'VMs to check: their hosts are scanned, and what concerns other VMs of the inventory is left out (default: every VM and host)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the findings as JSON' })
      .option('original', { type: 'string', nargs: 1, describe: 'print the original definition of VM from the journal (what a fix may define again) and read no host' })
      .example('$0 doctor -i fleet.yaml', 'scan every host of fleet.yaml')
      .example('$0 doctor -i fleet.yaml --limit host:hv07 -v', 'scan one host, with what the scan cost')
      .example('$0 doctor -i fleet.yaml --original db1 > db1.original.xml', "db1's definition before sanshift first changed it")
      .epilog('Exit codes: 0 nothing found, 1 findings that need attention (or a host that could not be read), 2 invalid input (docs/exit-codes.md).'),
  run: (a, io) => {
    const original = arg.optString(a, 'original');
    return doctorCommand(
      { inventory: arg.string(a, 'inventory'), vm: arg.strings(a, 'vm'), json: arg.flag(a, 'json'), stateDir: arg.optString(a, 'state-dir'), selection: selectionArgs(a), quiet: arg.flag(a, 'quiet'), verbose: arg.flag(a, 'verbose'), ...(original === undefined ? {} : { original }) },
      io,
    );
  },
};
