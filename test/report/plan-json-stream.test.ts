// `plan --json` is written one VM at a time; the text must be exactly what one
// JSON.stringify(…, null, 2) of the whole plan gives, so parsing and printing it again changes
// nothing.
import { describe, expect, test } from '@jest/globals';
import { main } from '../../src/cli/main.js';
import { RecordingIo } from '../../src/cli/io.js';
import { renderPlanJson } from '../../src/report/plan-view.js';
import { rehearsalCopy } from '../cli/helpers.js';

const canonical = (text: string) => `${JSON.stringify(JSON.parse(text), null, 2)}\n`;

describe('plan --json in pieces', () => {
  test('a fleet: the same text as one stringify, written in several pieces', async () => {
    const { inventory } = rehearsalCopy();
    const io = new RecordingIo();
    const pieces: string[] = [];
    const out = io.out.bind(io);
    io.out = (t: string) => {
      pieces.push(t);
      out(t);
    };
    expect(await main(['plan', '-i', inventory, '--json'], io)).toBe(0);
    const plan = JSON.parse(io.stdout);
    expect(plan.vms.length).toBeGreaterThan(1);
    expect(pieces.length).toBeGreaterThan(plan.vms.length);
    expect(io.stdout).toBe(canonical(io.stdout));
  });

  test('no VM, and problems: still the canonical text', () => {
    const text = renderPlanJson({ inventory: '/x/inv.yaml', createdAt: '2026-12-01T00:00:00.000Z', vms: [] }, [{ code: 'invalid-input', message: 'a "quoted"\nline', at: { file: '/x/inv.yaml' } }] as never);
    expect(text).toBe(canonical(text));
    expect(JSON.parse(text).problems[0].message).toBe('a "quoted"\nline');
  });
});
