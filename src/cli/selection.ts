// --limit, --exclude and --failed, the same on every command that takes VMs.
import type { Argv } from 'yargs';
import { factsOf, recordsByVm } from '../engine/facts.js';
import { readAllJournals, type JournalRecord } from '../engine/journal.js';
import { selectVms } from '../inventory/select.js';
import type { Inventory } from '../inventory/types.js';
import { InputError } from '../util/errors.js';
import { arg } from './command.js';

export function withSelection(y: Argv): Argv {
  return y
    .option('limit', { alias: 'l', type: 'string', array: true, default: [], describe: 'only these VMs: names, globs (web*), group:NAME, host:NAME; repeatable or comma-separated' })
    .option('exclude', { type: 'string', array: true, default: [], describe: 'not these VMs (same patterns as --limit)' })
    .option('failed', { type: 'boolean', default: false, describe: 'only the VMs whose last outcome in the journals is failed' });
}

export interface SelectionArgs {
  limit: string[];
  exclude: string[];
  failed: boolean;
}

export function selectionArgs(a: Record<string, unknown>): SelectionArgs {
  return { limit: arg.strings(a, 'limit'), exclude: arg.strings(a, 'exclude'), failed: arg.flag(a, 'failed') };
}

/** The VMs whose last recorded outcome is failed: each VM's own records folded by factsOf, in
 * one pass over the journals (a fleet's journals are large). */
export function failedInJournals(records: readonly JournalRecord[]): Set<string> {
  const failed = new Set<string>();
  for (const [vm, list] of recordsByVm(records)) if (factsOf(list, vm).outcome === 'failed') failed.add(vm);
  return failed;
}

/**
 * The names of the VMs selected by `names`, --limit, --exclude and --failed; [] when nothing
 * narrows the selection (every VM, as the planner reads an empty list). Throws InputError
 * (exit 2) when a pattern matches nothing or the selection is empty.
 */
export function selectedNames(inv: Inventory, names: readonly string[], sel: SelectionArgs, stateDir: string): string[] {
  const failed = sel.failed ? failedInJournals(readAllJournals(stateDir)) : undefined;
  const result = selectVms(inv, { names, limit: sel.limit, exclude: sel.exclude, ...(failed === undefined ? {} : { failed }) });
  if (result.problems.length > 0) throw new InputError(result.problems);
  return result.narrowed ? result.vms : [];
}
