import { DeviceError } from './errors.js';

/** The shape every device validates an I/O request against. */
export interface DeviceGeometry {
  readonly name: string;
  readonly size: number;
  readonly alignment: number;
}

/** Throws DeviceError unless [offset, offset+length) lies inside the device and is aligned. */
export function checkRange(device: DeviceGeometry, offset: number, length: number): void {
  const where = { offset, length };
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new DeviceError('ERANGE', device.name, 'offset and length must be non-negative integers', where);
  }
  if (offset + length > device.size) {
    throw new DeviceError('ERANGE', device.name, `access past the end of the device (size ${device.size})`, where);
  }
  if (offset % device.alignment !== 0 || length % device.alignment !== 0) {
    throw new DeviceError('EALIGN', device.name, `offset and length must be multiples of ${device.alignment}`, where);
  }
}
