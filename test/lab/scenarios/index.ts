// The lab's scenarios, in the order the runner lists them. Adding one: a new file in this
// folder exporting a Scenario, and one line here.
import type { Scenario } from './scenario.js';
import { fullMigration, fullMigrationSlowSsh } from './a-full-migration.js';
import { rollbackMidResync } from './b-rollback-mid-resync.js';
import { sigkillAtBoundaries } from './c-sigkill-at-boundaries.js';
import { hostReboot } from './d-host-reboot.js';
import { newLegFails } from './e-new-leg-fails.js';
import { restartOutsideSanshift } from './f-restart-outside.js';
import { gracefulShutdown } from './g-graceful-shutdown.js';
import { linuxGuest } from './h-linux-guest.js';
import { newInUseOnOtherHost } from './i-new-in-use-on-other-host.js';
import { fleetTwoHosts } from './j-fleet-two-hosts.js';
import { sshCut } from './k-ssh-cut.js';
import { twoOrchestrators } from './l-two-orchestrators.js';
import { oldFailsInSync } from './m-old-fails-in-sync.js';
import { writtenAroundWhileOff } from './n-written-around-while-off.js';
import { mdCaptures } from './p-md-captures.js';

export const SCENARIOS: readonly Scenario[] = [
  fullMigration,
  rollbackMidResync,
  sigkillAtBoundaries,
  hostReboot,
  newLegFails,
  restartOutsideSanshift,
  gracefulShutdown,
  linuxGuest,
  newInUseOnOtherHost,
  fleetTwoHosts,
  sshCut,
  twoOrchestrators,
  oldFailsInSync,
  writtenAroundWhileOff,
  mdCaptures,
  fullMigrationSlowSsh,
];
