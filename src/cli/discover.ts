// `sanshift discover`: reads every domain of the hosts named, and writes an inventory of those
// with block disks that the mapping moves, with comments on what was skipped and why.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { readDomainsOfHosts } from '../engine/discover-read.js';
import { HypervisorPool } from '../hypervisor/libvirt.js';
import { discoverInventory, parseHostOption, parseMapOption, type DiscoveredHost } from '../inventory/discover.js';
import { mappingRuleProblem, mappingRulesFromCsv } from '../inventory/mapping.js';
import type { ShellKind } from '../inventory/types.js';
import { errorMessage, InputError, InputErrorCode, type Problem } from '../util/errors.js';
import { isSafeDomainName } from '../util/validate.js';
import { arg, type CliCommand } from './command.js';
import { ExitCode } from './exit.js';
import type { Io } from './io.js';

export interface DiscoverArgs {
  host: string[];
  shell?: ShellKind;
  map: string[];
  csv?: string;
  output?: string;
  force: boolean;
}

const problem = (message: string, hint: string): Problem => ({ code: InputErrorCode.invalidInput, message, hint });

/** test:///FILE: FILE is absolute, as in libvirt. The inventory names it relative to its own
 * folder with testDriverNode:, so the fleet folder can move as a whole. */
function testUris(uri: string, outDir: string): { read: string; write: string; node?: string } {
  const m = /^test:\/\/(\/[^?#]*)(.*)$/.exec(uri);
  if (m === null || m[1] === '/default' || (m[2] ?? '') !== '') return { read: uri, write: uri };
  return { read: uri, write: uri, node: relative(outDir, m[1]!) };
}

export async function discoverCommand(args: DiscoverArgs, io: Io): Promise<number> {
  const problems: Problem[] = [];
  const hosts = args.host.map((h) => parseHostOption(h));
  args.host.forEach((h, i) => {
    const parsed = hosts[i];
    if (parsed === null || parsed === undefined) problems.push(problem(`--host ${JSON.stringify(h)} is not NAME=URI`, 'write --host hv1=qemu+ssh://root@hv1/system'));
    else if (!isSafeDomainName(parsed.name)) problems.push(problem(`host name ${JSON.stringify(parsed.name)} is not a plain name`, 'use letters, digits and . _ + -'));
  });
  const rules = args.map.map((m) => parseMapOption(m));
  args.map.forEach((m, i) => {
    const r = rules[i];
    if (r === null || r === undefined) problems.push(problem(`--map ${JSON.stringify(m)} is not REGEX=REPLACEMENT`, "write --map '^/dev/mapper/old-(.+)$=/dev/mapper/new-$1'"));
    else {
      const p = mappingRuleProblem(r.from, r.to);
      if (p !== undefined) problems.push(problem(`--map ${JSON.stringify(m)}: ${p.message}`, p.hint));
    }
  });
  if (args.map.length === 0 && args.csv === undefined) problems.push(problem('no mapping given: sanshift cannot tell the new volume of any disk', "add --map 'REGEX=REPLACEMENT' (repeatable) or --csv FILE of old,new[,array] rows"));
  const outDir = args.output === undefined ? process.cwd() : dirname(resolve(args.output));
  let csv: { file: string; rules: ReturnType<typeof mappingRulesFromCsv>['rules'] } | undefined;
  if (args.csv !== undefined) {
    const file = resolve(args.csv);
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(problem(`cannot read the CSV ${args.csv}: ${errorMessage(err)}`, 'pass a file of old,new[,array] rows'));
    }
    const parsed = mappingRulesFromCsv(text, file);
    problems.push(...parsed.problems);
    csv = { file: isAbsolute(args.csv) && args.output === undefined ? file : relative(outDir, file), rules: parsed.rules };
  }
  if (args.output !== undefined && existsSync(args.output) && !args.force) problems.push(problem(`${args.output} exists`, 'choose another -o file, or add --force to replace it'));
  if (problems.length > 0) throw new InputError(problems);

  const pool = new HypervisorPool();
  const found: DiscoveredHost[] = [];
  try {
    const targets = hosts.map((h) => ({ name: h!.name, uris: testUris(h!.uri, outDir) }));
    const read = await readDomainsOfHosts(targets.map((t) => pool.get(t.name, t.uris.read)));
    targets.forEach(({ name, uris }, i) => {
      const base = { name, uri: uris.write, ...(uris.node === undefined ? {} : { testDriverNode: uris.node }), ...(args.shell === undefined ? {} : { shell: args.shell }) };
      const r = read[i]!;
      found.push('error' in r ? { ...base, domains: [], error: r.error } : { ...base, domains: r.domains });
    });
  } finally {
    await pool.closeAll();
  }
  const result = discoverInventory({ hosts: found, rules: rules.map((r) => r!), ...(csv === undefined ? {} : { csv }), header: `Written by sanshift discover on ${new Date().toISOString()} from ${found.map((h) => h.name).join(', ')}.` });
  if (args.output === undefined) io.out(result.text);
  else writeFileSync(args.output, result.text);
  const unread = found.filter((h) => h.error !== undefined);
  const where = args.output === undefined ? '' : ` into ${args.output}`;
  io.err(`discovered ${result.vms.length} VM${result.vms.length === 1 ? '' : 's'} to migrate${where}; ${result.skipped.length} item${result.skipped.length === 1 ? '' : 's'} skipped (see the comments)\n`);
  for (const h of unread) io.err(`error: host ${h.name} could not be read: ${h.error}\n`);
  return unread.length > 0 ? ExitCode.failed : ExitCode.ok;
}

export const discoverCli: CliCommand = {
  command: 'discover',
  describe: 'write an inventory of every domain with block disks on the hosts named, with comments on what was skipped and why',
  needsInventory: false,
  builder: (y: Argv) =>
    y
      .option('host', { type: 'string', array: true, demandOption: true, describe: 'NAME=URI of a hypervisor host (repeatable)' })
      .option('shell', { type: 'string', choices: ['ssh', 'local', 'simulated'], describe: 'how sanshift runs host commands there (written as each host\'s shell)' })
      .option('map', { type: 'string', array: true, default: [], describe: "mapping rule REGEX=REPLACEMENT from an old volume's path to its new one (repeatable)" })
      .option('csv', { type: 'string', describe: 'CSV of exact old,new[,array] pairs (written as mappingCsv)' })
      .option('output', { alias: 'o', type: 'string', describe: 'write the inventory to this file (default: stdout)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace the -o file if it exists' })
      .example("$0 discover --host hv1=qemu+ssh://root@hv1/system --map '^/dev/mapper/old-(.+)$=/dev/mapper/new-$1' -o fleet.yaml", 'every VM of hv1 whose disks the rule maps')
      .example('$0 discover --host hv1=qemu+ssh://root@hv1/system --host hv2=qemu+ssh://root@hv2/system --csv pairs.csv -o fleet.yaml', 'two hosts, exact pairs from a CSV')
      .epilog('Exit codes: 0 written, 1 a host could not be read (the others are written), 2 invalid options.'),
  run: (a, io) => {
    const shell = arg.optString(a, 'shell') as ShellKind | undefined;
    const csvFile = arg.optString(a, 'csv');
    const output = arg.optString(a, 'output');
    return discoverCommand({ host: arg.strings(a, 'host'), map: arg.strings(a, 'map'), force: arg.flag(a, 'force'), ...(shell === undefined ? {} : { shell }), ...(csvFile === undefined ? {} : { csv: csvFile }), ...(output === undefined ? {} : { output }) }, io);
  },
};
