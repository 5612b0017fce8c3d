// LiveThread and its parts (see README.md in this folder).
export { Authenticator, parseChallenges, type Challenge, type Credentials } from './auth.js';
export { Depacketizer, DEFAULT_MAX_FRAME_BYTES, type DepacketizedUnit, type DepacketizerCounts, type DepacketizerOptions } from './depacketizer.js';
export { LiveCamera, type CameraState, type CameraStats, type LiveCameraHooks, type LiveCameraSpec } from './live-camera.js';
export { LiveError, type LiveErrorCode } from './live-error.js';
export { LIVE_COUNTERS, LiveThread, type CameraEvent, type LiveCameraConfig, type LiveEvents, type LiveThreadOptions } from './live-thread.js';
export { parseRtcp, parseRtp, type RtpPacket, type SenderReport } from './rtp.js';
export { RtspReader, type RtspMessage, type RtspResponse } from './rtsp-message.js';
export { RtspSession, type SessionOptions, type Transport, type VideoTrack } from './rtsp-session.js';
export { parseRtspUrl, redactUrl, type RtspUrl } from './rtsp-url.js';
export { parseSdp, type Sdp, type SdpMedia } from './sdp.js';
export { WallClock, type WallClockOptions } from './wall-clock.js';
