import { ThreadsError } from '../errors.js';

/** What went wrong with a camera, for logs, stats and the CLI's exit message. */
export type LiveErrorCode =
  | 'ERR_LIVE_URL' // the camera URL is not rtsp://host[:port]/path
  | 'ERR_LIVE_CONNECT' // TCP connect failed (refused, unreachable)
  | 'ERR_LIVE_TIMEOUT' // a step got no answer in time, or the camera stopped sending
  | 'ERR_LIVE_AUTH' // credentials missing or refused
  | 'ERR_LIVE_STATUS' // the camera answered a request with an error status
  | 'ERR_LIVE_UNAVAILABLE' // the camera answered 5xx: busy or not ready, worth another try
  | 'ERR_LIVE_PROTOCOL' // malformed RTSP, SDP, RTP or RTCP from the camera
  | 'ERR_LIVE_TOO_LARGE' // a length or count beyond our bounds
  | 'ERR_LIVE_MEDIA' // no H.264/H.265 video track we can play
  | 'ERR_LIVE_CLOSED'; // the camera closed the connection

/** An error of a live camera. The message never contains credentials. */
export class LiveError extends ThreadsError {
  declare readonly code: LiveErrorCode;
  constructor(code: LiveErrorCode, message: string) {
    super(code, message);
    this.name = 'LiveError';
  }
}

/** Throws ERR_LIVE_TOO_LARGE when `value` exceeds `max`: every length from the network passes here. */
export function bounded(value: number, max: number, what: string): number {
  if (value > max) throw new LiveError('ERR_LIVE_TOO_LARGE', `${what} of ${value} exceeds the limit of ${max}`);
  return value;
}
