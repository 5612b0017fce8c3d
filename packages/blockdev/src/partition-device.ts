import type { NativeApi, RawFile } from '@valkka/native';
import { defaultBackend } from './backend.js';
import { DeviceError, errnoOf } from './errors.js';
import { findPartition, retryWhileBusy, type PartitionInfo } from './partitions.js';
import { RawDevice, openRaw, type RawDeviceParams } from './raw-device.js';
import type { SystemRoots } from './system.js';

export interface PartitionDeviceOptions extends SystemRoots {
  /** Open without writing and without O_EXCL (readers may share the partition with its writer). */
  readOnly?: boolean;
  /** O_DIRECT when the backend supports it (default true). */
  direct?: boolean;
  backend?: NativeApi;
}

/**
 * A whole GPT partition of type Linux swap, found by PARTUUID and opened through its own device node
 * (offsets are relative to the partition start). Refused, with nothing written, when the partition
 * has another type, is mounted, is an active swap, is held by another device or opened exclusively.
 */
export class PartitionDevice extends RawDevice {
  protected constructor(
    params: RawDeviceParams,
    /** The partition as the GPT describes it. */
    readonly partition: PartitionInfo,
  ) {
    super(params);
  }

  static async open(partuuid: string, options: PartitionDeviceOptions = {}): Promise<PartitionDevice> {
    const readOnly = options.readOnly ?? false;
    const located = await findPartition(partuuid, options, { probeBusy: !readOnly });
    const info = located.info;
    const label = `${info.device ?? info.disk} (PARTUUID ${info.partuuid.toLowerCase()})`;
    if (located.refusal || !info.device) {
      throw new DeviceError(located.refusal ?? 'ENODEV', label, `refusing to use this partition: ${info.reason ?? 'no device node'}`);
    }
    const backend = options.backend ?? defaultBackend;
    let file: RawFile;
    try {
      const device = info.device;
      file = await retryWhileBusy(() => openRaw(backend, device, !readOnly, options.direct ?? true, !readOnly));
    } catch (err) {
      if (errnoOf(err) === 'EBUSY') {
        throw new DeviceError('EBUSY', label, 'refusing to use this partition: opened exclusively elsewhere (O_EXCL gave EBUSY)', { cause: err });
      }
      throw new DeviceError('EIO', label, `cannot open: ${(err as Error).message}`, { cause: err });
    }
    try {
      const [nodeSize, sectors] = await Promise.all([file.size(), file.sectorSizes()]);
      if (nodeSize !== info.size || sectors.logical !== info.sectorSize) {
        throw new DeviceError(
          'ESIZE',
          label,
          `device node has ${nodeSize} bytes in ${sectors.logical}-byte sectors, the GPT says ${info.size} in ${info.sectorSize}-byte sectors`,
        );
      }
      return new PartitionDevice({ name: label, file, backend, bytes: info.size, sectors, readOnly }, info);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }
}
