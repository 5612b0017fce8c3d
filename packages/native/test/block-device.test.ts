// Block-device behaviour on loop devices, for both backends.
import { readFileSync } from 'node:fs';
import { truncate, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { randomFillSync } from 'node:crypto';

import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { backendCases, makeTempDir } from './backends.js';
import { attachLoop, detachLoop, loopDeviceNeeds } from './loop-device.js';

const MiB = 1 << 20;
const IMAGE_SIZE = 24 * MiB;

const why = skipReason('@valkka/native block devices', loopDeviceNeeds());

describe.skipIf(why)('block devices (loop)', () => {
  let removeDir = async () => {};
  const attached: string[] = [];
  let dev512 = '';
  let dev4k = '';

  beforeAll(async () => {
    const temp = await makeTempDir();
    removeDir = temp.remove;
    const images = [join(temp.dir, 'a.img'), join(temp.dir, 'b.img')];
    for (const image of images) {
      await writeFile(image, '');
      await truncate(image, IMAGE_SIZE);
    }
    dev512 = attachLoop(images[0]!);
    attached.push(dev512);
    dev4k = attachLoop(images[1]!, 4096);
    attached.push(dev4k);
  });

  afterAll(async () => {
    for (const device of attached) detachLoop(device);
    await removeDir();
  });

  const sysfsQueue = (device: string, file: string): number =>
    Number(readFileSync(`/sys/class/block/${basename(device)}/queue/${file}`, 'utf8'));

  describe.each(backendCases)('$name backend', ({ name, api, unavailable }) => {
    const backendWhy = skipReason(`@valkka/native block devices, ${name} backend`, [[unavailable === undefined, unavailable ?? '']]);

    describe.skipIf(backendWhy)('device I/O', () => {
      it('size is the image size', async () => {
        for (const device of [dev512, dev4k]) {
          const file = await api.open(device);
          expect(await file.size()).toBe(IMAGE_SIZE);
          await file.close();
        }
      });

      it('sector sizes are the device queue limits', async () => {
        const small = await api.open(dev512);
        const large = await api.open(dev4k);
        expect(await small.sectorSizes()).toEqual({ logical: 512, physical: sysfsQueue(dev512, 'physical_block_size') });
        expect(await large.sectorSizes()).toEqual({ logical: 4096, physical: 4096 });
        await small.close();
        await large.close();
      });

      it('round-trips an O_DIRECT range; a 512-aligned write on a 4096-sector device is EINVAL when direct', async () => {
        const file = await api.open(dev4k, { write: true, direct: true });
        const data = api.allocAligned(4 * MiB);
        randomFillSync(data);
        expect(await file.write(data, 8 * MiB)).toBe(4 * MiB);
        await file.datasync();
        const back = api.allocAligned(4 * MiB);
        expect(await file.read(back, 8 * MiB)).toBe(4 * MiB);
        expect(back.equals(data)).toBe(true);
        const sector = data.subarray(0, 4096);
        if (api.capabilities().directIO) {
          await expect(file.write(sector, 512)).rejects.toMatchObject({ code: 'EINVAL', path: dev4k });
        } else {
          expect(await file.write(sector, 512)).toBe(4096);
        }
        await file.close();
      });

      it('exclusive opens refuse a device already opened exclusively (O_EXCL: EBUSY)', async () => {
        const holder = await api.open(dev512, { write: true, exclusive: true });
        await expect(api.open(dev512, { write: true, exclusive: true })).rejects.toMatchObject({ code: 'EBUSY', path: dev512 });
        await expect(api.open(dev512, { exclusive: true })).rejects.toThrow(`open ${dev512}: EBUSY`);
        await holder.close();
        const next = await api.open(dev512, { write: true, exclusive: true });
        await next.close();
      });

      it('fallocate is not supported on a block device (ENOTSUP, alias EOPNOTSUPP)', async () => {
        const file = await api.open(dev512, { write: true });
        await expect(file.fallocate(0, MiB)).rejects.toMatchObject({ code: 'ENOTSUP', operation: 'fallocate', path: dev512 });
        await file.close();
      });

      it('locks on a device conflict between two opens', async () => {
        const first = await api.open(dev512, { write: true });
        const second = await api.open(dev512, { write: true });
        first.lock('exclusive');
        expect(() => second.lock('exclusive')).toThrow(expect.objectContaining({ code: 'ELOCKED', path: dev512 }));
        await first.close();
        second.lock('exclusive');
        await second.close();
      });
    });
  });
});
