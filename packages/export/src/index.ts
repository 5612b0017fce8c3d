export { ExportError, type ExportErrorCode, describeTime } from './errors.js';
export { parseTime } from './time.js';
export { exportRange, sha256Of, type ExportOptions, type ExportResult } from './export.js';
export { planRange, type RangePlan, type RangeRequest } from './range.js';
export type { Hole } from './cut.js';
export type { VideoCodecName } from './mp4.js';
export { createExportHandler, byteRange, type ExportHandler, type ExportHandlerOptions } from './http.js';
