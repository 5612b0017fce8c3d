import { CliError } from './output.js';

const MULTIPLIERS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, ki: 1024, kib: 1024,
  m: 1e6, mb: 1e6, mi: 1024 ** 2, mib: 1024 ** 2,
  g: 1e9, gb: 1e9, gi: 1024 ** 3, gib: 1024 ** 3,
  t: 1e12, tb: 1e12, ti: 1024 ** 4, tib: 1024 ** 4,
};

/** Parses "4096", "1MiB", "64M", "2.5GiB" into bytes; `what` names the option in errors. */
export function parseBytes(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const mult = m ? MULTIPLIERS[m[2]!.toLowerCase()] : undefined;
  if (!m || mult === undefined) {
    throw new CliError(`${what}: '${text}' is not a size (examples: 4096, 512KiB, 1MiB, 64M, 2GiB)`);
  }
  const bytes = Math.floor(Number(m[1]) * mult);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new CliError(`${what}: '${text}' is out of range`);
  return bytes;
}

/** Parses a whole number within [min, max]; `what` names the option or argument in errors. */
export function parseInteger(text: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new CliError(`${what}: '${text}' is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw new CliError(`${what}: ${n} is out of range (${min}..${max})`);
  return n;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** Milliseconds since the epoch → ISO 8601 in UTC, or "-" for none. */
export function formatTime(ms: number | undefined): string {
  return ms === undefined || ms <= 0 ? '-' : new Date(ms).toISOString();
}

/** Parses a number of seconds > 0 (at most a year), e.g. "30" or "1.5"; `what` names the option in errors. */
export function parseSeconds(text: string, what: string): number {
  const s = Number(text);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text) || !(s > 0) || s > 366 * 86400) throw new CliError(`${what}: '${text}' is not a number of seconds > 0`);
  return s;
}
