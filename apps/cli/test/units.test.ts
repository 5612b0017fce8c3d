import { describe, expect, it } from 'vitest';
import { CliError } from '../src/output.js';
import { formatBytes, parseBytes, parseInteger } from '../src/units.js';

describe('sizes on the command line', () => {
  it.each([
    ['4096', 4096],
    ['512KiB', 512 * 1024],
    ['1MiB', 1024 * 1024],
    ['64M', 64e6],
    ['2.5GiB', 2.5 * 1024 ** 3],
    ['10 mib', 10 * 1024 ** 2],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseBytes(text, '--blocksize')).toBe(bytes);
  });

  it.each(['', 'abc', '1XB', '-5', '0', '1e99'])('rejects %j naming the option', (text) => {
    expect(() => parseBytes(text, '--blocksize')).toThrow(CliError);
    expect(() => parseBytes(text, '--blocksize')).toThrow(/--blocksize/);
  });

  it('checks whole numbers and their range', () => {
    expect(parseInteger('12', '--blocks', 1)).toBe(12);
    expect(() => parseInteger('0', '--blocks', 1)).toThrow(/--blocks: 0 is out of range/);
    expect(() => parseInteger('1.5', '--blocks')).toThrow(/not a whole number/);
  });

  it('prints sizes for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.00 GiB');
  });
});
