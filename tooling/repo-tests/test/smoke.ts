// What each package must do once installed from its tarball (ESM scripts run in the empty project).
export const smokeScripts: Record<string, string> = {
  '@valkka/native': `
import { capabilities, open, allocAligned } from '@valkka/native';
const caps = capabilities();
const f = await open('data.bin', { write: true, create: true, direct: caps.directIO });
const buf = allocAligned(4096); buf.fill(7);
await f.write(buf, 0); await f.datasync();
const back = allocAligned(4096); await f.read(back, 0); await f.close();
if (back[4095] !== 7) throw new Error('read back wrong bytes');
console.log(caps.backend); console.log('smoke ok');
`,
  '@valkka/blockdev': `
import { MemoryDevice } from '@valkka/blockdev';
const dev = new MemoryDevice(1 << 20);
const buf = dev.allocBuffer(4096); buf.fill(9);
await dev.write(8192, buf); await dev.flush();
const back = dev.allocBuffer(4096); await dev.read(8192, back);
if (back[0] !== 9) throw new Error('read back wrong bytes');
console.log('smoke ok');
`,
  '@valkka/fs': `
import { ValkkaSingleFS, Codec, MediaType } from '@valkka/fs';
const fs = await ValkkaSingleFS.newFromDirectory({ dirname: 'fs', blocksize: 65536, nBlocks: 8 });
const payload = new Uint8Array(1000).fill(5);
for (let i = 0; i < 100; i++) await fs.write({ streamId: 1, subsession: 0, timestamp: 1000 + i * 40, mediaType: MediaType.video, codec: Codec.none, flags: 1, payload });
await fs.close();
const back = await ValkkaSingleFS.loadFromDirectory('fs', { readOnly: true });
let frames = 0;
for (const b of back.getInd([1000, 5000])) frames += (await back.readBlock(b)).frames.length;
await back.close();
if (frames !== 100) throw new Error('read back ' + frames + ' frames, wrote 100');
console.log('smoke ok');
`,
  '@valkka/export': `
import { statSync, readFileSync } from 'node:fs';
import { ValkkaSingleFS, Codec, MediaType } from '@valkka/fs';
import { exportRange } from '@valkka/export';
// One 32x32 H.264 key frame (SPS, PPS, IDR), repeated at 25 fps.
const idr = Buffer.from('000000016742c00ada25b011000003000100000300320f1226a00000000168ce0fc80000016588843a26280c9d75e0', 'hex');
const fs = await ValkkaSingleFS.newFromDirectory({ dirname: 'fs', blocksize: 65536, nBlocks: 8 });
for (let i = 0; i < 50; i++) await fs.write({ streamId: 1, subsession: 0, timestamp: 1000 + i * 40, mediaType: MediaType.video, codec: Codec.h264, flags: 0, payload: idr });
const r = await exportRange(fs, { from: 1200, to: 2000, output: 'clip.mp4' });
await fs.close();
if (r.frames !== 21 || statSync('clip.mp4').size !== r.bytes) throw new Error('exported ' + r.frames + ' frames, ' + r.bytes + ' bytes');
if (readFileSync('clip.mp4').subarray(4, 8).toString() !== 'ftyp') throw new Error('not an MP4');
console.log('smoke ok');
`,
  '@valkka/manager': `
const m = await import('@valkka/manager');
if (typeof m !== 'object') throw new Error('no module');
console.log('smoke ok');
`,
  '@valkka/fleet': `
import { parseEntry, parseBlockQuery } from '@valkka/fleet';
import { createMirrorDevice } from '@valkka/fleet/mirror-device';
const entry = { node: 'n1', url: 'http://127.0.0.1:8080', heartbeatAt: 2, startedAt: 1, filesystems: [] };
if (typeof parseEntry(Buffer.from(JSON.stringify(entry)), 'node.n1') === 'string') throw new Error('valid entry refused');
if (typeof parseEntry(Buffer.from('{"node":"x"}'), 'node.x') !== 'string') throw new Error('hostile entry accepted');
if (parseBlockQuery(new URLSearchParams('fsId=' + '0'.repeat(32) + '&block=3')).block !== 3) throw new Error('query');
if (typeof createMirrorDevice !== 'function') throw new Error('no mirror device');
console.log('smoke ok');
`,
  '@valkka/cli': `
import { execFileSync } from 'node:child_process';
const run = (...a) => execFileSync('npx', ['--no-install', 'valkka', ...a], { encoding: 'utf8' });
if (!run('--help').includes('check')) throw new Error('help lacks commands');
run('init', 'fs', '--blocksize', '64KiB', '--blocks', '4');
const info = JSON.parse(run('info', 'fs', '--json'));
if (info.nBlocks !== 4) throw new Error('info says ' + info.nBlocks + ' blocks');
console.log('smoke ok');
`,
  '@valkka/threads': `
import { ValkkaSingleFS, Codec, MediaType } from '@valkka/fs';
import { ValkkaFSReaderThread, ValkkaFSWriterThread } from '@valkka/threads';
await (await ValkkaSingleFS.newFromDirectory({ dirname: 'fs', blocksize: 65536, nBlocks: 8 })).close();
const writer = new ValkkaFSWriterThread({ dirname: 'fs' });
await writer.start();
await writer.setSlotId(1, 7);
const payload = new Uint8Array(1000).fill(5);
for (let i = 0; i < 100; i++) await writer.input.pushFrameAsync({ slot: 1, subsession: 0, timestamp: 1000 + i * 40, mediaType: MediaType.video, codec: Codec.none, flags: 1, payload });
await writer.close();
const reader = new ValkkaFSReaderThread({ dirname: 'fs' });
await reader.start();
await reader.setSlotId(2, 7);
const request = await reader.pullBlocks([0, 1, 2, 3]);
let frames = 0;
for await (const e of reader.output) {
  if (e.kind === 'frame') frames++;
  if (e.kind === 'marker' && e.marker.type === 'end' && e.marker.request === request) break;
}
await reader.close();
if (frames !== 100 || writer.stats().written !== 100) throw new Error('read back ' + frames + ' frames through the worker threads, wrote 100');
console.log('smoke ok');
`,
  '@valkka/demo-web': `
import { ValkkaSingleFS } from '@valkka/fs';
import { startServer } from '@valkka/demo-web';
import { pino } from 'pino';
await (await ValkkaSingleFS.newFromDirectory({ dirname: 'fs', blocksize: 65536, nBlocks: 8 })).close();
const server = await startServer({ dirs: ['fs'], port: 0, logger: pino({ level: 'silent' }) });
const health = await (await fetch(server.url + 'api/health')).json();
const page = await (await fetch(server.url)).text();
await server.close();
if (!health.ok || !page.includes('main.js')) throw new Error('health ' + JSON.stringify(health) + ', page ' + page.slice(0, 80));
console.log('smoke ok');
`,
};
