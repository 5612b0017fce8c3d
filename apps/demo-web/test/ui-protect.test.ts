// The timeline's protected band, range selection, clip links and protect action in Debian Chromium.
import { retention } from '@valkka/fs';
import { skipReason } from '@valkka/vitest-preset/skip';
import type { BrowserContext, Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/server/server.js';
import { chromiumMissing, launch, settle, shot, tiles } from './browser.js';
import { makeRecordings, START } from './recordings.js';

const why = skipReason('demo-web protect/export UI in Chromium', [[!chromiumMissing(), 'chromium not installed (/usr/bin/chromium)']]);

describe.skipIf(why)('selection, clips and protected ranges on the timeline', () => {
  let rec: Awaited<ReturnType<typeof makeRecordings>>;
  let server: RunningServer;
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    rec = await makeRecordings();
    // camA: 1.0 s .. 3.0 s protected before the server starts.
    await retention.protect(rec.dirs[0]!, { from: START + 1000, to: START + 3000, note: 'test' });
    server = await startServer({ dirs: rec.dirs, port: 0, logger: pino({ level: 'silent' }) });
    browser = await launch();
    page = await browser.newPage();
    await page.goto(server.url);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await rec?.remove();
  });

  /** The colour of the timeline's pixel at instant t, one pixel below the top of a camera's row. */
  const band = async (t: number, camera: number): Promise<number[]> =>
    page.evaluate(
      ([time, cam]) => {
        const v = (window as any).__valkka;
        const top = v?.rowTop(cam) as number | undefined;
        if (top === undefined) return []; // the page has not listed its cameras yet
        const x = v.xOf(time) as number;
        const y = top + 1;
        return Array.from(document.querySelector<HTMLCanvasElement>('#timeline')!.getContext('2d')!.getImageData(x * devicePixelRatio, y * devicePixelRatio, 1, 1).data);
      },
      [t, camera],
    );
  const amber = (c: number[]): boolean => c[0]! > 200 && c[1]! > 150 && c[1]! < 200 && c[2]! < 100;

  it('draws a protected range as an amber band on its camera only', async () => {
    await settle(() => band(START + 2000, 0), amber, 15_000);
    expect(amber(await band(START + 2000, 0)), 'camA protected at +2 s').toBe(true);
    expect(amber(await band(START + 10_000, 0)), 'camA not protected at +10 s').toBe(false);
    expect(amber(await band(START + 2000, 2)), 'camC not protected').toBe(false);
  });

  it('selects with shift+drag, offers one MP4 link per camera in view, and protects the selection', async () => {
    const box = (await page.locator('#timeline').boundingBox())!;
    const at = async (t: number): Promise<[number, number]> => {
      const [x, y] = await page.evaluate((time) => [(window as any).__valkka.xOf(time), (window as any).__valkka.rowTop(1) + 7], t);
      return [box.x + x, box.y + y];
    };
    const [x0, y0] = await at(START + 6000);
    const [x1] = await at(START + 9000);
    await page.keyboard.down('Shift');
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    await page.mouse.move((x0 + x1) / 2, y0, { steps: 3 });
    await page.mouse.move(x1, y0, { steps: 3 });
    await page.mouse.up();
    await page.keyboard.up('Shift');
    const selection = (await page.evaluate(() => (window as any).__valkka.selection())) as [number, number];
    expect(Math.abs(selection[0] - (START + 6000)), `selection ${selection.map((t) => t - START).join(" .. ")} ms after START`).toBeLessThan(200);
    expect(Math.abs(selection[1] - (START + 9000))).toBeLessThan(200);
    expect(await page.locator('#selection').isVisible()).toBe(true);

    // The screenshot shows pictures under the list: at the newest recorded instant every camera has a frame
    // (or a codec this browser cannot decode, said in words).
    const ready = await settle(() => tiles(page), (ts) => ts.every((t) => t.shownTs !== undefined || t.message !== undefined), 15_000);
    expect(ready.filter((t) => t.shownTs === undefined && t.message === undefined).map((t) => t.name), 'tiles without a picture').toEqual([]);
    await page.click('#clip');
    const links = page.locator('#clips a[download]');
    expect(await links.count()).toBe(4);
    const href = (await links.first().getAttribute('href'))!;
    expect(href).toBe(`/api/export?stream=camA&from=${selection[0]}&to=${selection[1]}`);
    // The link downloads the MP4 (fetched the way the browser follows it).
    const got = await page.evaluate(async (url) => {
      const res = await fetch(url);
      return { status: res.status, type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition'), bytes: (await res.arrayBuffer()).byteLength };
    }, href);
    expect(got).toMatchObject({ status: 200, type: 'video/mp4', disposition: expect.stringMatching(/^attachment; filename="camA_/) });
    expect(got.bytes).toBeGreaterThan(1000);
    await shot(page, 'protect-01-clips');

    page.once('dialog', (d) => void d.accept('evidence'));
    await page.click('#protect');
    // Every camera in view has its filesystem's protection (camA's second one), and the bands are drawn.
    // The page protects one filesystem after another: wait for the last.
    const counts = await settle(
      () => Promise.all(rec.dirs.map(async (dir) => (await retention.listProtections(dir)).length)),
      (n) => n.join() === '2,1,1,1',
    );
    expect(counts, `protections per filesystem (toast: ${await page.locator('#toast').textContent()})`).toEqual([2, 1, 1, 1]);
    expect(await retention.listProtections(rec.dirs[3]!)).toMatchObject([{ from: selection[0], to: selection[1], note: 'evidence' }]);
    // The selection's tint lies over the bands: clear it to read their colour.
    await page.click('#clear-sel');
    expect(await page.locator('#selection').isVisible()).toBe(false);
    for (const camera of [1, 2, 3]) expect(amber(await settle(() => band(START + 7500, camera), amber)), `camera ${camera} band`).toBe(true);
    await shot(page, 'protect-02-bands');
  });
});
