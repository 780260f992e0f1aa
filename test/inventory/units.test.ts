import { describe, expect, it } from '@jest/globals';
import { parseDuration, parseSize, parseSpeed } from '../../src/inventory/units.js';

describe('parseDuration', () => {
  it.each([
    ['300s', 300_000],
    ['5m', 300_000],
    ['1m30s', 90_000],
    ['1m 30s', 90_000],
    ['500ms', 500],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1.5s', 1_500],
    [600, 600_000],
    ['45', 45_000],
    [0, 0],
  ] as const)('reads %j as %d ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ ok: true, value: ms });
  });
  it.each(['5 minutes', '', 's', '5x', '10s5', -1, true, null, '1m30'])('refuses %j with a hint', (input) => {
    const parsed = parseDuration(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.hint).toContain("'5m'");
  });
});

describe('parseSize', () => {
  it.each([
    ['40GiB', 40 * 1024 ** 3],
    ['40G', 40 * 1024 ** 3],
    ['512MiB', 512 * 1024 ** 2],
    ['1TB', 1e12],
    ['1.5KiB', 1536],
    [4096, 4096],
    ['4096', 4096],
  ] as const)('reads %j as %d bytes', (input, bytes) => {
    expect(parseSize(input)).toEqual({ ok: true, value: bytes });
  });
  it.each(['40 giga', 'GiB', '-1GiB', 0, 1.5, '0', {}])('refuses %j', (input) => {
    expect(parseSize(input).ok).toBe(false);
  });
});

describe('parseSpeed', () => {
  it.each([
    ['200MiB/s', 204_800],
    ['4000KiB/s', 4000],
    ['1GiB/s', 1_048_576],
    ['100MB/s', 97_656],
    ['200 MiB / s', 204_800],
    [4000, 4000],
  ] as const)('reads %j as %d KiB/s', (input, kib) => {
    expect(parseSpeed(input)).toEqual({ ok: true, value: kib });
  });
  it.each(['200MiB', 'fast', '100/s', '512B/s', 0, '/s'])('refuses %j', (input) => {
    expect(parseSpeed(input).ok).toBe(false);
  });
});
