import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearPause, describePause, pauseApplies, pausePath, readPause, requestPause } from '../../src/control/pause.js';

const stateDir = () => join(mkdtempSync(join(tmpdir(), 'sanshift-pause-')), '.sanshift');

describe('the pause request file', () => {
  it('is written whole (no temporary file left), read back, and cleared', () => {
    const dir = stateDir();
    expect(readPause(dir)).toBeNull();
    const req = requestPause(dir, { now: new Date('2026-11-24T02:15:00Z'), reason: 'change freeze', runs: ['R1'], by: 'ops@admin1 (pid 7)' });
    expect(req).toEqual({ requestedAt: '2026-11-24T02:15:00.000Z', by: 'ops@admin1 (pid 7)', reason: 'change freeze', runs: ['R1'] });
    expect(readdirSync(dir)).toEqual(['pause.json']);
    expect(readPause(dir)).toEqual(req);
    expect(describePause(req)).toBe('pause requested at 2026-11-24T02:15:00.000Z by ops@admin1 (pid 7) (change freeze)');
    expect(clearPause(dir)).toBe(true);
    expect(existsSync(pausePath(dir))).toBe(false);
    expect(clearPause(dir)).toBe(false);
  });
  it('a second request replaces the first', () => {
    const dir = stateDir();
    requestPause(dir, { now: new Date('2026-11-24T02:15:00Z') });
    requestPause(dir, { now: new Date('2026-11-24T03:00:00Z'), reason: 'again' });
    expect(readPause(dir)).toMatchObject({ requestedAt: '2026-11-24T03:00:00.000Z', reason: 'again', runs: [] });
    expect(readPause(dir)?.by).toMatch(/@.* \(pid \d+\)$/);
  });
  it('a file that is not a request still pauses every run (someone asked)', () => {
    const dir = stateDir();
    requestPause(dir, { now: new Date() });
    writeFileSync(pausePath(dir), '{ torn');
    const req = readPause(dir);
    expect(req?.reason).toContain('not a pause request sanshift wrote');
    expect(pauseApplies(req, { id: 'R9', startedAtMs: Date.parse('2030-01-01T00:00:00Z') })).toBe(true);
  });
});

describe('which runs a request pauses', () => {
  const req = { requestedAt: '2026-11-24T02:15:00.000Z', by: 'ops', runs: ['R-named'] };
  it('runs that started before it, and runs it names', () => {
    expect(pauseApplies(req, { id: 'R1', startedAtMs: Date.parse('2026-11-23T22:00:00Z') })).toBe(true);
    expect(pauseApplies(req, { id: 'R-named', startedAtMs: Date.parse('2026-11-25T22:00:00Z') })).toBe(true);
  });
  it('not a run started after it: `sanshift run` again resumes', () => {
    expect(pauseApplies(req, { id: 'R2', startedAtMs: Date.parse('2026-11-24T22:00:00Z') })).toBe(false);
    expect(pauseApplies(null, { id: 'R1', startedAtMs: 0 })).toBe(false);
  });
});
