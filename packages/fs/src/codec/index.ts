export { CodecError, type CodecErrorCode } from './errors.js';
export {
  H264Nal,
  H265Nal,
  configTypes,
  findNalUnits,
  isKeyNal,
  isVcl,
  isVideoCodec,
  joinAnnexB,
  nalType,
  type NalUnit,
  type VideoCodec,
} from './nal.js';
export {
  AccessUnitSplitter,
  classifyAccessUnit,
  frameFlagsOf,
  type AccessUnit,
  type AccessUnitInfo,
  type AccessUnitSplitterOptions,
} from './access-unit.js';
export { ConfigTracker, type TrackedAccessUnit } from './config-tracker.js';
export { avc1CodecString, hev1CodecString, parseH264Sps, parseH265Sps, unescapeRbsp, type H264SpsInfo, type H265SpsInfo } from './sps.js';
