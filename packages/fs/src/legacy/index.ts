export { LegacyError, type LegacyErrorCode } from './errors.js';
export { parseBlockRecords, RECORD_HEADER_BYTES, type LegacyBlockRecords, type LegacyRecord } from './records.js';
export { recordsToFrames, type LegacyFrames } from './access-units.js';
export {
  openLegacyDirectory,
  parseLegacyJson,
  type LegacyBlock,
  type LegacyBlockFrames,
  type LegacyDirectory,
  type LegacyJson,
  type OpenLegacyOptions,
} from './directory.js';
