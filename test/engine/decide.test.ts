import { describe, expect, it } from '@jest/globals';
import { decideMigration, decideRollback } from '../../src/engine/decide.js';
import type { MigrationFacts } from '../../src/engine/facts.js';
import type { MirrorView, Observation } from '../../src/engine/observation.js';
import type { MirrorState } from '../../src/host/mirrorstate.js';

const state = (over: Partial<MirrorState> = {}): MirrorState => ({
  kernelName: 'md127',
  present: true,
  members: [],
  slotsUp: [true, true],
  inSync: true,
  degraded: 0,
  syncAction: 'idle',
  progress: null,
  failedLeg: null,
  speedLimit: null,
  mismatchCount: 0,
  ...over,
});
const mirror = (over: Partial<MirrorView> = {}): MirrorView => ({ target: 'vda', exists: true, ours: true, hasNew: true, reason: null, kernelName: 'md127', state: state(), ...over });
const absent = (): MirrorView => ({ target: 'vda', exists: false, ours: false, hasNew: false, reason: '/dev/md/ss-x-vda does not exist', kernelName: null, state: null });
const obs = (over: Partial<Observation> = {}): Observation => ({ state: 'running', id: 7, running: true, live: 'old', persistent: 'old', recorded: false, managedSave: false, mirrors: [absent()], ...over });
const facts = (over: Partial<MigrationFacts> = {}): MigrationFacts => ({ originalXml: '<domain/>', originalRunning: true, startedOnMirrorId: null, shutDownForCutover: false, startedOnNew: false, healthPassed: false, lastFailure: null, outcome: null, ...over });

describe('decideMigration', () => {
  it.each([
    ['running on OLD, no mirror: T1 shutdown', obs(), facts(), 'shutdown-for-mirror'],
    ['off, no mirror: build', obs({ running: false, id: null, live: null, state: 'shutoff' }), facts(), 'build-mirror'],
    ['off, mirror without NEW: add', obs({ running: false, id: null, live: null, mirrors: [mirror({ hasNew: false, state: state({ inSync: false, degraded: 1, slotsUp: [true, false] }) })] }), facts(), 'add-new-leg'],
    ['off, mirror ready, not recorded: record', obs({ running: false, id: null, live: null, mirrors: [mirror({ state: state({ inSync: false, progress: { doneSectors: 1, totalSectors: 10, percent: 10, speedKiBs: 100 }, syncAction: 'recover' }) })] }), facts(), 'record-migration'],
    ['off, recorded: start on the mirror', obs({ running: false, id: null, live: null, recorded: true, mirrors: [mirror({ state: state({ inSync: false, progress: { doneSectors: 1, totalSectors: 10, percent: 10, speedKiBs: 100 }, syncAction: 'recover' }) })] }), facts(), 'start-on-mirror'],
    ['on the mirror, copying: wait', obs({ live: 'mirror', recorded: true, mirrors: [mirror({ state: state({ inSync: false, progress: { doneSectors: 1, totalSectors: 10, percent: 10, speedKiBs: 100 }, syncAction: 'recover' }) })] }), facts({ startedOnMirrorId: 7 }), 'wait-for-resync'],
    ['on the mirror, in sync, same id: cutover', obs({ live: 'mirror', recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7 }), 'shutdown-for-cutover'],
    ['on the mirror, other id (I3): T1 again', obs({ live: 'mirror', recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 3 }), 'shutdown-for-mirror'],
    ['on OLD beside its mirror (I3): stop the stale mirror', obs({ recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7 }), 'stop-mirror'],
    ['off after our T2 shutdown, in sync: define on NEW', obs({ running: false, id: null, live: null, recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7, shutDownForCutover: true }), 'define-on-new'],
    ['off on its mirror, not by us (I3): stop the stale mirror', obs({ running: false, id: null, live: null, recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7 }), 'stop-mirror'],
    ['defined on NEW, mirror left: stop it', obs({ running: false, id: null, live: null, persistent: 'new', mirrors: [mirror()] }), facts({ shutDownForCutover: true }), 'stop-mirror'],
    ['defined on NEW, off: start on NEW', obs({ running: false, id: null, live: null, persistent: 'new' }), facts(), 'start-on-new'],
    ['on NEW, not gated: health gate', obs({ live: 'new', persistent: 'new' }), facts({ startedOnNew: true }), 'health-gate'],
    ['on NEW, healthy: done', obs({ live: 'new', persistent: 'new' }), facts({ startedOnNew: true, healthPassed: true }), 'done'],
  ])('%s', (_label, o, f, expected) => {
    expect(decideMigration(o, f).kind).toBe(expected);
  });

  it('fails and rolls back on a failed leg, and on an idle degraded mirror (trap 4)', () => {
    const failed = decideMigration(obs({ live: 'mirror', recorded: true, mirrors: [mirror({ state: state({ inSync: false, failedLeg: 'dm-3', degraded: 1 }) })] }), facts({ startedOnMirrorId: 7 }));
    expect(failed).toEqual({ kind: 'fail', reason: "leg dm-3 of vda's mirror failed", rollback: true });
    const idle = decideMigration(obs({ live: 'mirror', recorded: true, mirrors: [mirror({ state: state({ inSync: false, degraded: 1, syncAction: 'idle' }) })] }), facts({ startedOnMirrorId: 7 }));
    expect(idle).toMatchObject({ kind: 'fail', rollback: true });
  });

  it('refuses a stranger holding the mirror name, and a managed save', () => {
    expect(decideMigration(obs({ running: false, id: null, live: null, mirrors: [mirror({ ours: false, reason: '/dev/md/ss-x-vda (md127) also holds dm-9' })] }), facts())).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/mirror name taken: .*also holds dm-9/) });
    expect(decideMigration(obs({ running: false, id: null, live: null, managedSave: true }), facts())).toMatchObject({ kind: 'fail', rollback: false });
  });
});

describe('decideRollback', () => {
  it.each([
    ['on the mirror: shut down', obs({ live: 'mirror', recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7 }), 'shutdown-for-rollback'],
    ['off with a mirror: stop it', obs({ running: false, id: null, live: null, recorded: true, mirrors: [mirror()] }), facts(), 'stop-mirror'],
    ['off, recorded: define the original', obs({ running: false, id: null, live: null, recorded: true }), facts(), 'define-original'],
    ['defined on NEW but never started there: define the original', obs({ running: false, id: null, live: null, persistent: 'new' }), facts(), 'define-original'],
    ['off, original defined: start on OLD', obs({ running: false, id: null, live: null }), facts(), 'start-on-old'],
    ['running on OLD, nothing left: done', obs(), facts(), 'done'],
  ])('%s', (_label, o, f, expected) => {
    expect(decideRollback(o, f).kind).toBe(expected);
  });

  it('refuses after T2 completed: only --reverse goes back', () => {
    expect(decideRollback(obs({ live: 'new', persistent: 'new' }), facts({ startedOnNew: true }))).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/only a reverse migration \(--reverse\)/) });
  });
});

describe('the resync cap', () => {
  it('is set before NEW joins, so the copy starts capped', () => {
    const built = obs({ running: false, id: null, live: null, mirrors: [mirror({ hasNew: false, state: state({ inSync: false, degraded: 1, slotsUp: [true, false], speedLimit: { kiBs: 200000, source: 'system' } }) })] });
    expect(decideMigration(built, facts(), { resyncSpeedMaxKiB: 4096 })).toEqual({ kind: 'cap-resync-speed', target: 'vda', kiBs: 4096 });
    const cappedAlready = obs({ running: false, id: null, live: null, mirrors: [mirror({ hasNew: false, state: state({ inSync: false, degraded: 1, slotsUp: [true, false], speedLimit: { kiBs: 4096, source: 'local' } }) })] });
    expect(decideMigration(cappedAlready, facts(), { resyncSpeedMaxKiB: 4096 }).kind).toBe('add-new-leg');
  });
});
