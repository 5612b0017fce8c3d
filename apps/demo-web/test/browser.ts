/** Debian Chromium through playwright-core, and reading what the page's tiles show. */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumMissing = (): boolean => !existsSync(CHROMIUM);
/** Screenshots of each state, kept as test artifacts. */
export const ARTIFACTS = resolve(import.meta.dirname, '../../../.test-results/demo-web');

export async function launch(): Promise<BrowserContext> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'valkka-chromium-')), {
    headless: true,
    executablePath: CHROMIUM,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface Shown {
  camera: number;
  name: string;
  shownTs: number | undefined;
  noData: boolean;
  message: string | undefined;
  /** The frame number read from the canvas pixels (see packages/threads/test/fixtures/README.md), or why not. */
  number: number | string;
}

/**
 * What every tile shows, read in one go: its state and the 16-bit frame number from its canvas pixels
 * (top band, bit i = the 20x20 square at x = 20i, white = 1; a square neither black nor white is no code).
 */
export function tiles(page: Page): Promise<Shown[]> {
  return page.evaluate(() => {
    const states = (window as unknown as { __valkka: { tiles(): Array<Omit<Shown, 'number'>> } }).__valkka.tiles();
    return states.map((s) => {
      const canvas = document.querySelector<HTMLCanvasElement>(`.tile[data-camera="${s.camera}"] canvas`);
      let number: number | string = 'no canvas';
      if (canvas && canvas.width >= 320) {
        const px = canvas.getContext('2d')!.getImageData(0, 0, 320, 20).data;
        number = 0;
        for (let bit = 0; bit < 16 && typeof number === 'number'; bit++) {
          let sum = 0;
          for (let y = 6; y < 14; y++) for (let x = bit * 20 + 6; x < bit * 20 + 14; x++) sum += (px[(y * 320 + x) * 4]! + px[(y * 320 + x) * 4 + 1]! + px[(y * 320 + x) * 4 + 2]!) / 3;
          const mean = sum / 64;
          if (mean > 64 && mean < 192) number = `bit ${bit}: mean ${mean.toFixed(0)} is not a code`;
          else if (mean >= 128) number |= 1 << bit;
        }
      }
      return { ...s, number };
    });
  });
}

export const shot = (page: Page, name: string): Promise<Buffer> => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

/** Polls `read` until `ok` holds for its value; returns the last value either way (the test then says what was wrong). */
export async function settle<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await read();
  while (!ok(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
}
