/** Media types, with FFmpeg's numbering as in libValkka. */
export const MediaType = { unknown: -1, video: 0, audio: 1 } as const;
export type MediaType = (typeof MediaType)[keyof typeof MediaType];

/** Codec ids, with FFmpeg's AVCodecID numbering as in libValkka. */
export const Codec = { none: 0, h264: 27, h265: 173, pcmMulaw: 0x10006, pcmAlaw: 0x10007 } as const;
export type Codec = (typeof Codec)[keyof typeof Codec];

/** Bits of Frame.flags. */
export const FrameFlags = {
  /** The frame starts a decodable run (H.264 IDR, H.265 IRAP; any frame of a codec without inter frames). */
  key: 1,
  /** The payload carries the codec configuration in-band (SPS/PPS, and VPS for H.265). */
  config: 2,
} as const;

/**
 * One access unit of one stream: every NAL unit of one picture (Annex-B, with start codes),
 * or one audio packet. `streamId` is the on-disk id (>= 1), as the original's IdNumber.
 */
export interface Frame {
  streamId: number;
  /** 0 = the lead stream (usually video); 1 = e.g. audio. */
  subsession: number;
  /** Stream time: milliseconds since the Unix epoch. */
  timestamp: number;
  mediaType: MediaType;
  codec: Codec;
  /** FrameFlags bits. */
  flags: number;
  payload: Uint8Array;
}

export const isKeyFrame = (f: Pick<Frame, 'flags'>): boolean => (f.flags & FrameFlags.key) !== 0;
