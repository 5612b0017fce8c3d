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
};
