// Durations, sizes and speeds as operators write them ('5m', '40GiB', '200MiB/s'), parsed
// into the units the rest of sanshift uses: milliseconds, bytes, KiB/s (md's own unit).

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string; hint: string };

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** '300s', '5m', '1m30s', '500ms', '2h'; a bare number is seconds. Result in milliseconds. */
export function parseDuration(input: unknown): Parsed<number> {
  const hint = "write a number of seconds or a string such as '300s', '5m', '1m30s' or '500ms'";
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return { ok: false, message: `expected a duration, got ${input}`, hint };
    return { ok: true, value: Math.round(input * 1000) };
  }
  if (typeof input !== 'string') return { ok: false, message: `expected a duration, got ${describeValue(input)}`, hint };
  const text = input.replace(/\s+/g, '');
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total = 0;
  let end = 0;
  let parts = 0;
  for (let m = part.exec(text); m !== null; m = part.exec(text)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? Number.NaN);
    end = part.lastIndex;
    parts++;
  }
  if (parts === 0 && /^\d+(?:\.\d+)?$/.test(text)) return { ok: true, value: Math.round(Number(text) * 1000) };
  if (parts === 0 || end !== text.length || !Number.isFinite(total)) {
    return { ok: false, message: `${JSON.stringify(input)} is not a duration`, hint };
  }
  return { ok: true, value: Math.round(total) };
}

// Binary units are what lsblk and md speak; decimal units are accepted because disk vendors use them.
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  p: 1024 ** 5,
  pib: 1024 ** 5,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
  pb: 1000 ** 5,
};

function parseAmount(text: string): { value: number; unit: string } | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text.trim());
  if (m === null) return undefined;
  const factor = SIZE_UNITS[(m[2] ?? '').toLowerCase() || 'b'];
  if (factor === undefined) return undefined;
  return { value: Number(m[1]) * factor, unit: m[2] ?? '' };
}

/** '40GiB', '512M', '1TB', or a bare number of bytes. Result in bytes. */
export function parseSize(input: unknown): Parsed<number> {
  const hint = "write a number of bytes or a string such as '40GiB', '512MiB' or '1TB'";
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input <= 0) return { ok: false, message: `expected a size, got ${input}`, hint };
    return { ok: true, value: input };
  }
  if (typeof input !== 'string') return { ok: false, message: `expected a size, got ${describeValue(input)}`, hint };
  const amount = parseAmount(input);
  if (amount === undefined || amount.value < 1) return { ok: false, message: `${JSON.stringify(input)} is not a size`, hint };
  return { ok: true, value: Math.floor(amount.value) };
}

/** '200MiB/s', '4000KiB/s', '1GB/s', or a bare number of KiB/s (md's sync_speed_max unit). Result in KiB/s. */
export function parseSpeed(input: unknown): Parsed<number> {
  const hint = "write a number of KiB/s or a string such as '200MiB/s' or '4000KiB/s'";
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 1) return { ok: false, message: `expected a speed of at least 1 KiB/s, got ${input}`, hint };
    return { ok: true, value: Math.floor(input) };
  }
  if (typeof input !== 'string') return { ok: false, message: `expected a speed, got ${describeValue(input)}`, hint };
  const m = /^(.*?)\s*\/\s*s$/.exec(input.trim());
  const amount = m === null ? undefined : parseAmount(m[1] ?? '');
  if (amount === undefined || amount.unit === '') return { ok: false, message: `${JSON.stringify(input)} is not a speed`, hint };
  const kib = Math.floor(amount.value / 1024);
  if (kib < 1) return { ok: false, message: `${JSON.stringify(input)} is below md's smallest speed, 1 KiB/s`, hint };
  return { ok: true, value: kib };
}

/** A short rendering of a YAML value for messages: strings quoted, objects by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}
