// What every command shares: loading the inventory, opening connections, the state folder.
import { dirname, join, resolve } from 'node:path';
import { Connections, DEFAULT_GUEST_TIMES, readRehearsalTime } from '../engine/connections.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { VirtualClock, wallClock, type Clock } from '../util/clock.js';

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
  const stateDir = stateDirFor(inventoryFile, stateDirOption);
  const rehearsalDir = join(stateDir, 'rehearsal');
  // A rehearsal runs on a virtual clock: hours of resync pass in seconds, and the times it
  // reports (downtime, resync) are those of the simulated fleet. It starts now, or where the
  // rehearsal's last command left it if that is later.
  const clock = simulated ? new VirtualClock(Math.max(Date.now(), readRehearsalTime(rehearsalDir)?.commandEndedAtMs ?? 0)) : wallClock;
  const connections = new Connections(inventory, { clock, stateDir, ...(simulated ? { guestTimes: DEFAULT_GUEST_TIMES, rehearsalDir } : {}) });
  return { inventory, connections, clock, stateDir };
}

export const REHEARSAL_BANNER =
  'REHEARSAL: this inventory uses simulated hosts (shell: simulated) and libvirt test-driver URIs; nothing real is touched.\n';
