/**
 * The WebSocket protocol between the server and the browser, shared by both sides (no Node or DOM here).
 *
 * Browser -> server: JSON text commands (see commands.ts on the server for their validation).
 * Server -> browser: JSON text events, and binary frame messages laid out as below (little endian):
 *
 *   0  u8   kind = FRAME_KIND
 *   1  u8   flags: FRAME_KEY | FRAME_PREROLL
 *   2  u8   codec: CODEC_H264 | CODEC_H265 | CODEC_OTHER
 *   3  u8   length of the codec string (0 when the frame carries no configuration)
 *   4  u32  camera (the server's camera number)
 *   8  u32  generation (bumped by every seek / play / live, so frames of an older request are dropped)
 *  12  f64  timestamp, ms since the epoch (stream time)
 *  20  u16  width, 22 u16 height (from the configuration, 0 when unknown)
 *  24  codec string (ASCII, e.g. avc1.42C00D), then the access unit (Annex-B, with its parameter sets on key frames)
 */

export const FRAME_KIND = 1;
export const FRAME_HEADER = 24;

/** The frame starts a decodable run (IDR / IRAP). */
export const FRAME_KEY = 1;
/** Part of a seek burst before the target: decode it, never show it. */
export const FRAME_PREROLL = 2;

export const CODEC_OTHER = 0;
export const CODEC_H264 = 1;
export const CODEC_H265 = 2;

export interface WireFrame {
  camera: number;
  generation: number;
  timestamp: number;
  flags: number;
  codec: number;
  /** Set when the access unit carries its configuration. */
  config?: { codecString: string; width: number; height: number } | undefined;
  payload: Uint8Array;
}

export function encodeFrame(f: WireFrame): Uint8Array {
  const codecString = f.config?.codecString ?? '';
  const out = new Uint8Array(FRAME_HEADER + codecString.length + f.payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, FRAME_KIND);
  view.setUint8(1, f.flags);
  view.setUint8(2, f.codec);
  view.setUint8(3, codecString.length);
  view.setUint32(4, f.camera, true);
  view.setUint32(8, f.generation, true);
  view.setFloat64(12, f.timestamp, true);
  view.setUint16(20, f.config?.width ?? 0, true);
  view.setUint16(22, f.config?.height ?? 0, true);
  for (let i = 0; i < codecString.length; i++) out[FRAME_HEADER + i] = codecString.charCodeAt(i) & 0x7f;
  out.set(f.payload, FRAME_HEADER + codecString.length);
  return out;
}

export function decodeFrame(bytes: Uint8Array): WireFrame {
  if (bytes.length < FRAME_HEADER) throw new Error(`frame message of ${bytes.length} bytes is shorter than its ${FRAME_HEADER}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(0) !== FRAME_KIND) throw new Error(`binary message of kind ${view.getUint8(0)} is not a frame`);
  const n = view.getUint8(3);
  if (FRAME_HEADER + n > bytes.length) throw new Error('frame message: codec string runs past its end');
  const codecString = String.fromCharCode(...bytes.subarray(FRAME_HEADER, FRAME_HEADER + n));
  const width = view.getUint16(20, true);
  const height = view.getUint16(22, true);
  return {
    camera: view.getUint32(4, true),
    generation: view.getUint32(8, true),
    timestamp: view.getFloat64(12, true),
    flags: view.getUint8(1),
    codec: view.getUint8(2),
    config: n > 0 ? { codecString, width, height } : undefined,
    payload: bytes.subarray(FRAME_HEADER + n),
  };
}

/** Playback rates the UI offers; reverse play uses the negatives down to -8. */
export const RATES = [0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32] as const;
export const MIN_REVERSE_RATE = -8;

/** A stream whose newest frame at an instant is older than this is in a hole there (NO DATA). */
export const HOLE_MS = 1500;

/** The state every clock message carries; the browser runs its own copy of the session clock from it. */
export interface ClockState {
  generation: number;
  /** Stream time at the moment the message was sent. */
  time: number;
  /** 0 when stopped; negative in reverse. */
  rate: number;
  live: boolean;
}

/** Server -> browser JSON events. */
export type ServerEvent =
  | { type: 'hello'; session: number; limits: { streams: number; messageBytes: number } }
  | { type: 'cameras'; cameras: CameraInfo[] }
  | ({ type: 'clock' } & ClockState)
  | { type: 'seeked'; generation: number; time: number; shown: Array<{ camera: number; timestamp: number | null }> }
  | { type: 'cached'; ranges: Array<{ camera: number; from: number; to: number }> }
  | { type: 'error'; code: string; message: string };

export interface CameraInfo {
  id: number;
  name: string;
  /** Directory of its filesystem. */
  fs: string;
  streamId: number;
  codec: 'h264' | 'h265' | 'other' | null;
  timeRange: [number, number] | null;
  recording: boolean;
  /** local: this server's filesystem; remote: another fleet node's, played through this server; archive: the fleet's archive of one. */
  source: 'local' | 'remote' | 'archive';
  /** The fleet node that records it (null outside a fleet). */
  node: string | null;
  /** False while its node is offline (an archive camera stays playable: always true). */
  online: boolean;
  /** True while a camera of an offline node plays from the fleet archive (its archived blocks) instead of its node. */
  fromArchive: boolean;
}
