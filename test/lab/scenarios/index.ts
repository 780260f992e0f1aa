// The lab's scenarios. Adding one: a new file in this
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

// The order is the runner's: each starts once its tenants are free, and never before an earlier
// one it shares a tenant or a host with. It keeps CI short: the chains on one tenant (vm2: a,
// c, e; vm6: i, j, m; host B: i, j, d) start first and run beside each other.
export const SCENARIOS: readonly Scenario[] = [
  fullMigration,
  newInUseOnOtherHost,
  fleetTwoHosts,
  sigkillAtBoundaries,
  rollbackMidResync,
  restartOutsideSanshift,
  newLegFails,
  hostReboot,
  oldFailsInSync,
  // opt-in (npm run test:lab:full, or --only)
  linuxGuest,
  sshCut,
  twoOrchestrators,
  writtenAroundWhileOff,
  gracefulShutdown,
  mdCaptures,
  fullMigrationSlowSsh,
];
