// @valkka/manager: FSGroup and ValkkaFSManager, synchronized playback of many ValkkaFS streams on one clock.
export { FSGroup, type Mapping } from './fs-group.js';
export { ValkkaFSManager } from './manager.js';
export type {
  FsErrorInfo,
  ManagerEvents,
  ManagerOptions,
  MapOptions,
  PlayState,
  RecordedRanges,
  SeekResult,
  StreamOutput,
  TimeRange,
} from './types.js';
