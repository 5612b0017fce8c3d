import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
const ctx = await chromium.launchPersistentContext(mkdtempSync('/tmp/pw-'), { headless: true, executablePath: '/usr/bin/chromium',
  args: ['--headless','--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync'], viewport: { width: 1280, height: 800 } });
const page = await ctx.newPage();
await page.goto(process.argv[2]);
const r = await page.evaluate(async (opts) => {
  const ws = new WebSocket(`ws://${location.host}/ws`); ws.binaryType = 'arraybuffer';
  const frames = [];
  await new Promise((res) => { ws.onopen = res; });
  ws.onmessage = (m) => { if (typeof m.data !== 'string') frames.push(new Uint8Array(m.data)); };
  ws.send(JSON.stringify({ cmd: 'open', cameras: [0] }));
  await new Promise((r) => setTimeout(r, 500));
  frames.length = 0;
  ws.send(JSON.stringify({ cmd: 'seek', time: opts.t }));
  await new Promise((r) => setTimeout(r, 1000));
  const out = {};
  for (const latency of [true, false]) {
    const chunks = frames.map((b) => { const v = new DataView(b.buffer); const n = b[3]; return { key: (b[1] & 1) === 1, ts: v.getFloat64(12, true), cs: String.fromCharCode(...b.subarray(24, 24 + n)), data: b.subarray(24 + n) }; });
    const t0 = performance.now(); let got = 0; const times = [];
    await new Promise((resolve) => {
      const d = new VideoDecoder({ output: (f) => { f.close(); got++; times.push(performance.now() - t0); if (got === chunks.length) resolve(); }, error: (e) => { out.err = e.message; resolve(); } });
      d.configure({ codec: chunks[0].cs, optimizeForLatency: latency });
      for (const c of chunks) d.decode(new EncodedVideoChunk({ type: c.key ? 'key' : 'delta', timestamp: c.ts * 1000, data: c.data }));
      if (!latency) d.flush();
    });
    out[`latency=${latency}`] = { n: chunks.length, ms: performance.now() - t0, first: times[0], last: times.at(-1) };
  }
  return out;
}, { t: Number(process.argv[3]) });
console.log(JSON.stringify(r));
await ctx.close();
