/// <reference lib="dom" />
// A <video> in Debian Chromium plays the handler's MP4 (through its byte ranges) and seeks in it;
// the frame number drawn in the fixture's pixels says which frame it shows.
import { existsSync, mkdtempSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type ValkkaFS, loadValkkaFS } from '@valkka/fs';
import { skipReason } from '@valkka/vitest-preset/skip';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type ExportHandler, createExportHandler } from '../src/index.js';
import { type Recording, loadClip, record } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const why = skipReason('export in Chromium', [[existsSync(CHROMIUM), `${CHROMIUM} not installed`]]);
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
const FRAME = 40;

/**
 * The frame number in the video's top band (bit i = the 20x20 square at x = 20i, white = 1), or why
 * not. A frame just decoded may not be drawable yet (the canvas stays black): retried for a while.
 */
function shownFrame(page: Page): Promise<number | string> {
  return page.evaluate(async () => {
    const video = document.querySelector('video')!;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d')!;
    for (let attempt = 0; ; attempt++) {
      ctx.drawImage(video, 0, 0);
      const all = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      if (all.some((v, i) => i % 4 === 0 && v > 0)) break;
      if (attempt === 60) return 'the video paints nothing';
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const px = ctx.getImageData(0, 0, 320, 20).data;
    let n = 0;
    for (let bit = 0; bit < 16; bit++) {
      let sum = 0;
      for (let y = 6; y < 14; y++) for (let x = bit * 20 + 6; x < bit * 20 + 14; x++) sum += px[(y * 320 + x) * 4]!;
      const mean = sum / 64;
      if (mean > 64 && mean < 192) return `bit ${bit}: mean luma ${mean.toFixed(0)} is not a code`;
      if (mean >= 128) n |= 1 << bit;
    }
    return n;
  });
}

describe.skipIf(why)('the exported MP4 in Chromium', () => {
  let rec: Recording;
  let fs: ValkkaFS;
  let handler: ExportHandler;
  let server: Server;
  let browser: BrowserContext;
  const ranges: string[] = [];
  let base: string;

  beforeAll(async () => {
    rec = await record(loadClip('h264-baseline-gop1s.h264'), { blocksize: 64 * 1024, nBlocks: 16, count: 250, timeOf: (k) => T0 + k * FRAME });
    fs = await loadValkkaFS(rec.dirname, { readOnly: true });
    handler = createExportHandler({ resolveStream: () => ({ fs }), cacheDir: join(rec.dirname, '..', 'cache') });
    server = createServer((req, res) => {
      if (req.url?.startsWith('/api/export')) {
        if (req.headers.range) ranges.push(req.headers.range);
        return void handler(req, res);
      }
      res.setHeader('Content-Type', 'text/html');
      res.end('<!doctype html><video muted playsinline></video>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'valkka-export-chromium-')), {
      headless: true,
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--autoplay-policy=no-user-gesture-required'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
    await handler?.close();
    await fs?.close();
    await rec?.remove();
  });

  it('shows the frame at from first, plays, and seeks with byte ranges', async () => {
    const page = await browser.newPage();
    await page.goto(base);
    // From frame 37 (between key frames 25 and 50) to frame 200.
    const src = `/api/export?stream=cam1&from=${T0 + 37 * FRAME}&to=${T0 + 200 * FRAME}`;
    const duration = await page.evaluate(async (url) => {
      const video = document.querySelector('video')!;
      video.src = url;
      await new Promise((resolve, reject) => {
        video.onloadeddata = resolve;
        video.onerror = () => reject(new Error(`video error ${video.error?.code}: ${video.error?.message}`));
      });
      return video.duration;
    }, src);
    // 164 frames of 40 ms.
    expect(duration).toBeCloseTo(164 * 0.04, 1);
    expect(await shownFrame(page)).toBe(37);

    // Seek to 2.0 s: frame 37 + 50.
    await page.evaluate(async () => {
      const video = document.querySelector('video')!;
      video.currentTime = 2.0;
      await new Promise((resolve) => (video.onseeked = resolve));
    });
    expect(await shownFrame(page)).toBe(87);

    // Play to the end: the last frame shown is frame 200.
    await page.evaluate(async () => {
      const video = document.querySelector('video')!;
      video.currentTime = 6.0;
      await new Promise((resolve) => (video.onseeked = resolve));
      await video.play();
      await new Promise((resolve) => (video.onended = resolve));
    });
    expect(await shownFrame(page)).toBe(200);
    expect(ranges.length).toBeGreaterThan(0);
    await page.close();
  });
});
