import { describe, expect, it } from '@jest/globals';
import { canariesOf, FailureBudget } from '../../src/control/budget.js';
import type { Rollout } from '../../src/inventory/types.js';

const rollout = (r: Partial<Rollout> = {}): Rollout => ({ canaryVms: [], canaryGroups: [], canaryCount: 0, ...r });
const vms = [
  { name: 'dns1', groups: ['infra'] },
  { name: 'db1', groups: ['db', 'canary'] },
  { name: 'web1', groups: [] },
  { name: 'web2', groups: [] },
  { name: 'web3', groups: [] },
];

describe('canariesOf', () => {
  it('names, groups, or the first N VMs of the run', () => {
    expect(canariesOf(rollout({ canaryVms: ['web2'], canaryGroups: ['canary'] }), vms)).toEqual(['db1', 'web2']);
    expect(canariesOf(rollout({ canaryCount: 2 }), vms)).toEqual(['dns1', 'db1']);
    expect(canariesOf(rollout(), vms)).toEqual([]);
  });
  it('leaves out canaries that are not in this run (done earlier, or not selected)', () => {
    expect(canariesOf(rollout({ canaryVms: ['db1'] }), vms.filter((v) => v.name !== 'db1'))).toEqual([]);
  });
});

describe('canaries first', () => {
  it('admits the canaries, makes the others wait, then admits them once every canary is done', () => {
    const b = FailureBudget.forRun(rollout({ canaryVms: ['dns1', 'db1'] }), vms);
    expect(b.decide(['dns1'])).toEqual({ admit: true, canary: true });
    expect(b.decide(['web1'])).toEqual({ admit: false, wait: true, reason: 'waiting for the canaries to finish: dns1, db1 (rollout.canaries)' });
    // a bundle holding a canary shares its windows: it goes with the canaries
    expect(b.decide(['db1', 'web3'])).toEqual({ admit: true, canary: true });
    b.finished('dns1', 'done');
    expect(b.decide(['web1'])).toMatchObject({ admit: false, wait: true, reason: expect.stringContaining('db1 (rollout.canaries)') });
    b.finished('db1', 'done');
    expect(b.decide(['web1'])).toEqual({ admit: true, canary: false });
    expect(b.stopped).toBeNull();
  });
  it('a failed canary stops every admission, with the canary and its reason', () => {
    const b = FailureBudget.forRun(rollout({ canaryCount: 1, maxFailures: 10 }), vms);
    expect(b.finished('dns1', 'failed', 'graceful shutdown timed out')).toBe('canary dns1 failed: graceful shutdown timed out; no other VM is admitted in this run (rollout.canaries)');
    expect(b.decide(['web1'])).toEqual({ admit: false, wait: false, reason: b.stopped });
  });
});

describe('the failure budget', () => {
  it('stops after maxFailures failures, naming them', () => {
    const b = FailureBudget.forRun(rollout({ maxFailures: 2 }), vms);
    expect(b.finished('web1', 'failed')).toBeNull();
    expect(b.decide(['web2'])).toEqual({ admit: true, canary: false });
    expect(b.finished('web2', 'rolled-back')).toBe('2 VMs failed (web1, web2), rollout.maxFailures is 2; no new VM is admitted in this run');
    expect(b.decide(['web3'])).toMatchObject({ admit: false, wait: false });
    // a VM in flight still finishes, and is counted, but the reason stays the first one
    expect(b.finished('db1', 'failed')).toBeNull();
    expect(b.summary()).toEqual({ canaries: [], finished: 3, failed: ['web1', 'web2', 'db1'], stopped: '2 VMs failed (web1, web2), rollout.maxFailures is 2; no new VM is admitted in this run' });
  });
  it('stops when more than maxFailPercent of the finished VMs failed, not at exactly that much', () => {
    const b = FailureBudget.forRun(rollout({ maxFailPercent: 25 }), vms);
    for (const vm of ['dns1', 'db1', 'web1']) b.finished(vm, 'done');
    expect(b.finished('web2', 'failed')).toBeNull(); // 1 of 4: 25%, not above
    expect(b.decide(['web3'])).toEqual({ admit: true, canary: false });
    expect(b.finished('web3', 'failed')).toBe('2 of the 5 VMs finished in this run failed (40%, web2, web3), above rollout.maxFailPercent 25%; no new VM is admitted in this run');
  });
  it('counts a VM once, and never stops on successes', () => {
    const b = FailureBudget.forRun(rollout({ maxFailures: 1 }), vms);
    b.finished('web1', 'done');
    b.finished('web1', 'failed');
    expect(b.stopped).toBeNull();
    expect(b.summary().finished).toBe(1);
  });
});
