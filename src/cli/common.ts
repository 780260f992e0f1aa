// What every command shares: loading the inventory, opening connections, the state folder.
import { dirname, join, resolve } from 'node:path';
import { Connections } from '../engine/connections.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { AcceleratedClock, wallClock, type Clock } from '../util/clock.js';

/** A rehearsal on simulated hosts runs 600x faster than the wall clock: 10 minutes a second. */
export const REHEARSAL_SPEEDUP = 600;

export interface Session {
  inventory: Inventory;
  connections: Connections;
  clock: Clock;
  stateDir: string;
}

/** The state folder: --state-dir, else .sanshift beside the inventory file. */
export function stateDirFor(inventoryFile: string, explicit?: string): string {
  return explicit !== undefined ? resolve(explicit) : join(dirname(resolve(inventoryFile)), '.sanshift');
}

export async function openSession(inventoryFile: string, stateDirOption?: string): Promise<Session> {
  const inventory = await loadInventory(inventoryFile);
  const simulated = Object.values(inventory.hosts).some((h) => h.shell === 'simulated');
  const clock = simulated ? new AcceleratedClock(REHEARSAL_SPEEDUP) : wallClock;
  const stateDir = stateDirFor(inventoryFile, stateDirOption);
  return { inventory, connections: new Connections(inventory, { clock, stateDir }), clock, stateDir };
}

export const REHEARSAL_BANNER =
  'REHEARSAL: this inventory uses simulated hosts (shell: simulated) and libvirt test-driver URIs; nothing real is touched.\n';
