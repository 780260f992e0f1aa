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
const copying = state({ inSync: false, progress: { doneSectors: 1, totalSectors: 10, percent: 10, speedKiBs: 100 }, syncAction: 'recover', slotsUp: [true, false], degraded: 1 });
const oneLeg = state({ inSync: false, slotsUp: [true, false], degraded: 1 });
/** a mirror in sync, NEW joined */
const mirror = (over: Partial<MirrorView> = {}): MirrorView => ({ target: 'vda', exists: true, ours: true, hasOld: true, hasNew: true, reason: null, kernelName: 'md127', state: state(), oldFailed: false, newFailed: false, newInSync: true, writtenAround: 0, newWrittenSinceStop: null, ...over });
/** a mirror built over OLD alone, before NEW joined */
const built = (over: Partial<MirrorView> = {}): MirrorView => mirror({ hasNew: false, newInSync: false, writtenAround: null, state: oneLeg, ...over });
const absent = (over: Partial<MirrorView> = {}): MirrorView => ({ target: 'vda', exists: false, ours: false, hasOld: false, hasNew: false, reason: '/dev/md/ss-x-vda does not exist', kernelName: null, state: null, oldFailed: false, newFailed: false, newInSync: false, writtenAround: null, newWrittenSinceStop: null, ...over });
const obs = (over: Partial<Observation> = {}): Observation => ({ state: 'running', id: 7, running: true, suspended: false, live: 'old', persistent: 'old', persistentXml: '<domain/>', recorded: false, managedSave: false, mirrors: [absent()], hostReadWhileOff: false, ...over });
const off = (over: Partial<Observation> = {}): Observation => obs({ state: 'shutoff', id: null, running: false, live: null, ...over });
const facts = (over: Partial<MigrationFacts> = {}): MigrationFacts => ({ originalXml: '<domain/>', wantRunning: true, startedOnMirrorId: null, flushed: false, joined: new Map(), shutDownForCutover: false, openWindow: null, definedOnNew: false, newAfterStop: new Map(), startOnNewIntended: false, startedOnNew: false, healthPassed: false, lastFailure: null, held: null, outcome: null, ...over });
const joined = new Map([['vda', null]]);

describe('decideMigration: the life of a VM', () => {
  it.each([
    // prepare, while the VM still runs on OLD
    ['running on OLD, no mirror: build it over OLD alone', obs(), facts(), 'build-mirrors'],
    ['running on OLD, one of two mirrors built: build the other', obs({ mirrors: [built(), absent({ target: 'vdb' })] }), facts(), 'build-mirrors'],
    ['running on OLD, mirror built: record the migration', obs({ mirrors: [built()] }), facts(), 'record-migration'],
    ['running on OLD, mirror built, recorded: the T1 shutdown', obs({ mirrors: [built()], recorded: true }), facts(), 'shutdown-for-mirror'],
    ['running on OLD but paused by an operator: hold, never shut down', obs({ mirrors: [built()], recorded: true, state: 'paused', suspended: true }), facts(), 'hold'],
    // T1
    ['off after the T1 shutdown: drop the page cache', off({ mirrors: [built()], recorded: true }), facts(), 'flush-mirrors'],
    ['off, flushed: start on the mirror', off({ mirrors: [built()], recorded: true }), facts({ flushed: true }), 'start-on-mirror'],
    // copy
    ['on the mirror, started by an earlier run: adopt it', obs({ live: 'mirror', recorded: true, mirrors: [built()] }), facts(), 'adopt-start'],
    ['on the mirror, NEW not joined: add it', obs({ live: 'mirror', recorded: true, mirrors: [built()] }), facts({ startedOnMirrorId: 7 }), 'add-new-legs'],
    ['on the mirror, copying: wait', obs({ live: 'mirror', recorded: true, mirrors: [mirror({ state: copying, newInSync: false })] }), facts({ startedOnMirrorId: 7, joined }), 'wait-for-resync'],
    // T2
    ['on the mirror, in sync, same id: the T2 shutdown', obs({ live: 'mirror', recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7, joined }), 'shutdown-for-cutover'],
    ['off after the T2 shutdown, host not read since: the final check', off({ recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7, shutDownForCutover: true, joined }), 'read-host'],
    ['off after the T2 shutdown, read, nothing written around: define on NEW', off({ recorded: true, mirrors: [mirror()], hostReadWhileOff: true }), facts({ startedOnMirrorId: 7, shutDownForCutover: true, joined }), 'define-on-new'],
    ['defined on NEW, mirror left: stop it', off({ persistent: 'new', mirrors: [mirror()] }), facts({ shutDownForCutover: true, definedOnNew: true }), 'stop-mirrors'],
    ['defined on NEW, off: start on NEW', off({ persistent: 'new' }), facts({ definedOnNew: true }), 'start-on-new'],
    ['on NEW, not gated: health gate', obs({ live: 'new', persistent: 'new' }), facts({ startedOnNew: true }), 'health-gate'],
    ['on NEW, healthy: done', obs({ live: 'new', persistent: 'new' }), facts({ startedOnNew: true, healthPassed: true }), 'done'],
    // I3
    ['on the mirror, other id: restarted outside sanshift, T1 again', obs({ live: 'mirror', recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 3, joined }), 'shutdown-for-mirror'],
    ['on OLD beside a mirror NEW joined: the copy is stale', obs({ recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7, joined }), 'stop-mirrors'],
    ['off on its mirror, not by sanshift: the copy is stale', off({ recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7, joined }), 'stop-mirrors'],
    // a VM meant to stay off
    ['meant off, mirror built: NEW joins with nobody on the mirror', off({ recorded: true, mirrors: [built()] }), facts({ wantRunning: false }), 'add-new-legs'],
    ['meant off, in sync, read while off: define on NEW', off({ recorded: true, mirrors: [mirror()], hostReadWhileOff: true }), facts({ wantRunning: false, joined }), 'define-on-new'],
    ['meant off, on NEW: done, and it stays off', off({ persistent: 'new' }), facts({ wantRunning: false, definedOnNew: true }), 'done'],
  ])('%s', (_label, o, f, expected) => {
    expect(decideMigration(o, f).kind).toBe(expected);
  });

  it('I3 while off: writes to OLD around an in-sync mirror mean the copy is redone, never cut over', () => {
    const f = facts({ startedOnMirrorId: 7, shutDownForCutover: true, joined });
    expect(decideMigration(off({ recorded: true, hostReadWhileOff: true, mirrors: [mirror({ writtenAround: 2048 })] }), f)).toMatchObject({ kind: 'stop-mirrors', why: 'stale', note: expect.stringMatching(/2048 sectors were written to OLD around it/) });
    // counters that cannot be compared (the array or OLD recreated, a reboot) are not trusted
    expect(decideMigration(off({ recorded: true, hostReadWhileOff: true, mirrors: [mirror({ writtenAround: null })] }), f)).toMatchObject({ kind: 'stop-mirrors', why: 'stale' });
    // a VM meant to stay off: the same rule before its define
    expect(decideMigration(off({ recorded: true, hostReadWhileOff: true, mirrors: [mirror({ writtenAround: 8 })] }), facts({ wantRunning: false, joined }))).toMatchObject({ kind: 'stop-mirrors', why: 'stale' });
  });

  it('off for its cutover, the copy no longer complete: copied again, and the note says why', () => {
    const f = facts({ startedOnMirrorId: 7, shutDownForCutover: true, joined });
    expect(decideMigration(off({ recorded: true, hostReadWhileOff: true, mirrors: [mirror({ state: copying, newInSync: false })] }), f)).toMatchObject({ kind: 'stop-mirrors', why: 'stale', note: "I3: after the T2 shutdown, vda's mirror is no longer a complete copy: NEW is copied again" });
  });

  it('OLD failed while NEW was in sync: forward to NEW, never back to the stale OLD', () => {
    const oldGone = mirror({ oldFailed: true, newInSync: true, state: state({ inSync: false, slotsUp: [false, true], degraded: 1, failedLeg: 'dm-0' }) });
    const f = facts({ startedOnMirrorId: 7, joined });
    expect(decideMigration(obs({ live: 'mirror', recorded: true, mirrors: [oldGone] }), f)).toEqual({ kind: 'shutdown-for-cutover', id: 7, forward: true });
    // then, off: the final check passes on NEW alone
    const offF = facts({ startedOnMirrorId: 7, shutDownForCutover: true, joined });
    expect(decideMigration(off({ recorded: true, hostReadWhileOff: true, mirrors: [oldGone] }), offF).kind).toBe('define-on-new');
    // writes around the mirror before OLD failed: NEW lacks them, OLD cannot be read: stop and ask
    expect(decideMigration(off({ recorded: true, hostReadWhileOff: true, mirrors: [{ ...oldGone, writtenAround: 64 }] }), offF)).toMatchObject({ kind: 'fail', rollback: false, reason: expect.stringMatching(/old leg failed, and 64 sectors were written to OLD around it/) });
    // OLD removed from the array afterwards (mdadm --remove failed): still NEW alone, still forward
    expect(decideMigration(obs({ live: 'mirror', recorded: true, mirrors: [mirror({ hasOld: false, newInSync: true, state: state({ inSync: false, slotsUp: [false, true], degraded: 1 }) })] }), f).kind).toBe('shutdown-for-cutover');
  });

  it('OLD failed before NEW was in sync: neither is whole; stop and tell, no rollback', () => {
    const both = mirror({ oldFailed: true, newInSync: false, state: state({ inSync: false, slotsUp: [true, false], degraded: 1, syncAction: 'idle' }) });
    expect(decideMigration(obs({ live: 'mirror', recorded: true, mirrors: [both] }), facts({ startedOnMirrorId: 7, joined }))).toMatchObject({ kind: 'fail', rollback: false, reason: expect.stringMatching(/neither volume is a complete copy/) });
  });

  it('NEW failed, NEW left the array without failing, or an idle degraded mirror: back to OLD', () => {
    const f = facts({ startedOnMirrorId: 7, joined });
    const failed = decideMigration(obs({ live: 'mirror', recorded: true, mirrors: [mirror({ newFailed: true, newInSync: false, state: state({ inSync: false, failedLeg: 'dm-3', degraded: 1 }) })] }), f);
    expect(failed).toEqual({ kind: 'fail', reason: "the new leg of vda's mirror failed (dm-3)", rollback: true });
    const left = decideMigration(obs({ live: 'mirror', recorded: true, mirrors: [built()] }), f);
    expect(left).toMatchObject({ kind: 'fail', rollback: true, reason: expect.stringMatching(/new volume left vda's mirror/) });
    const idle = decideMigration(obs({ live: 'mirror', recorded: true, mirrors: [mirror({ newInSync: false, state: state({ inSync: false, degraded: 1, syncAction: 'idle' }) })] }), f);
    expect(idle).toMatchObject({ kind: 'fail', rollback: true });
  });

  it('refuses a stranger holding the mirror name, and a managed save', () => {
    expect(decideMigration(obs({ mirrors: [mirror({ ours: false, reason: '/dev/md/ss-x-vda (md127) also holds dm-9' })] }), facts())).toMatchObject({ kind: 'fail', rollback: false, reason: expect.stringMatching(/mirror name taken: .*also holds dm-9/) });
    expect(decideMigration(off({ managedSave: true }), facts())).toMatchObject({ kind: 'fail', rollback: false });
  });

  it('caps the copy when the policy says and the cap is missing', () => {
    const o = obs({ live: 'mirror', recorded: true, mirrors: [mirror({ state: copying, newInSync: false })] });
    expect(decideMigration(o, facts({ startedOnMirrorId: 7, joined }), { resyncSpeedMaxKiB: 4096 })).toEqual({ kind: 'cap-resync-speed', targets: ['vda'], kiBs: 4096 });
    const capped = obs({ live: 'mirror', recorded: true, mirrors: [mirror({ newInSync: false, state: { ...copying, speedLimit: { kiBs: 4096, source: 'local' } } })] });
    expect(decideMigration(capped, facts({ startedOnMirrorId: 7, joined }), { resyncSpeedMaxKiB: 4096 }).kind).toBe('wait-for-resync');
  });
});

describe('decideRollback', () => {
  it('from prepare: stops the one-legged mirrors and takes the record out, without a restart', () => {
    expect(decideRollback(obs({ recorded: true, mirrors: [built()] }), facts()).kind).toBe('stop-mirrors');
    expect(decideRollback(obs({ recorded: true }), facts()).kind).toBe('define-original');
    expect(decideRollback(obs(), facts()).kind).toBe('done');
  });

  it('from the mirror: shut down, stop the mirror, start on OLD', () => {
    expect(decideRollback(obs({ live: 'mirror', recorded: true, mirrors: [mirror()] }), facts({ startedOnMirrorId: 7 })).kind).toBe('shutdown-for-rollback');
    expect(decideRollback(off({ recorded: true }), facts()).kind).toBe('define-original');
    expect(decideRollback(off(), facts()).kind).toBe('start-on-old');
  });

  it('refuses once the VM may have run on NEW: the start was intended, or NEW was written since the cutover', () => {
    expect(decideRollback(off({ persistent: 'new' }), facts({ startOnNewIntended: true }))).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/only a reverse migration/) });
    expect(decideRollback(obs({ live: 'new', persistent: 'new' }), facts())).toMatchObject({ kind: 'fail' });
    const stopped = (n: number | null) => off({ persistent: 'new', mirrors: [absent({ newWrittenSinceStop: n })] });
    expect(decideRollback(stopped(16), facts({ definedOnNew: true }))).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/16 sectors were written to vda's new volume since the cutover/) });
    expect(decideRollback(stopped(null), facts({ definedOnNew: true }))).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/cannot be compared/) });
    // nothing wrote NEW since the cutover's final check: OLD is still whole, back it goes
    expect(decideRollback(stopped(0), facts({ definedOnNew: true })).kind).toBe('define-original');
    // defined on NEW with its mirrors still up: NEW is held by md, nobody can have run on it
    expect(decideRollback(off({ persistent: 'new', mirrors: [mirror()] }), facts({ definedOnNew: true })).kind).toBe('define-original');
  });

  it('never goes back onto an OLD whose leg failed', () => {
    expect(decideRollback(off({ recorded: true, mirrors: [mirror({ oldFailed: true })] }), facts())).toMatchObject({ kind: 'fail', rollback: false, reason: expect.stringMatching(/old leg .* failed/) });
  });
});
