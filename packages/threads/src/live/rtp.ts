import { LiveError } from './live-error.js';

export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  sequence: number;
  /** 32-bit media timestamp. */
  timestamp: number;
  ssrc: number;
  /** The payload: shares the packet's memory. */
  payload: Uint8Array;
}

/** Parses an RTP packet (RFC 3550 §5.1): version, CSRCs, header extension and padding are checked against the length. */
export function parseRtp(packet: Uint8Array): RtpPacket {
  if (packet.length < 12) throw new LiveError('ERR_LIVE_PROTOCOL', `RTP packet of ${packet.length} bytes is shorter than its 12-byte header`);
  const b0 = packet[0]!;
  if (b0 >> 6 !== 2) throw new LiveError('ERR_LIVE_PROTOCOL', `RTP version ${b0 >> 6} (expected 2)`);
  let start = 12 + 4 * (b0 & 0x0f);
  if (b0 & 0x10) {
    if (packet.length < start + 4) throw new LiveError('ERR_LIVE_PROTOCOL', 'RTP header extension runs past the packet');
    start += 4 + 4 * ((packet[start + 2]! << 8) | packet[start + 3]!);
  }
  let end = packet.length;
  if (b0 & 0x20) end -= packet[packet.length - 1]!;
  if (start > end) throw new LiveError('ERR_LIVE_PROTOCOL', `RTP header (${start} bytes) and padding run past the ${packet.length}-byte packet`);
  // Read byte by byte: no DataView for every packet.
  return {
    payloadType: packet[1]! & 0x7f,
    marker: (packet[1]! & 0x80) !== 0,
    sequence: (packet[2]! << 8) | packet[3]!,
    timestamp: u32(packet, 4),
    ssrc: u32(packet, 8),
    payload: packet.subarray(start, end),
  };
}

const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

export interface SenderReport {
  ssrc: number;
  /** The camera's wall clock (NTP) as ms since the Unix epoch. */
  ntpMs: number;
  /** The RTP timestamp that corresponds to it. */
  rtpTimestamp: number;
}

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2_208_988_800;

/** The sender reports of a compound RTCP packet (RFC 3550 §6.4.1); other RTCP packets are skipped. */
export function parseRtcp(packet: Uint8Array): SenderReport[] {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const reports: SenderReport[] = [];
  let pos = 0;
  while (pos < packet.length) {
    if (packet.length - pos < 4) throw new LiveError('ERR_LIVE_PROTOCOL', `RTCP packet truncated at byte ${pos}`);
    if (packet[pos]! >> 6 !== 2) throw new LiveError('ERR_LIVE_PROTOCOL', `RTCP version ${packet[pos]! >> 6} at byte ${pos} (expected 2)`);
    const type = packet[pos + 1]!;
    const length = 4 * (view.getUint16(pos + 2) + 1);
    if (pos + length > packet.length) throw new LiveError('ERR_LIVE_PROTOCOL', `RTCP packet of ${length} bytes at byte ${pos} runs past the ${packet.length}-byte datagram`);
    if (type === 200) {
      if (length < 28) throw new LiveError('ERR_LIVE_PROTOCOL', `RTCP sender report of ${length} bytes is too short`);
      const seconds = view.getUint32(pos + 8);
      const fraction = view.getUint32(pos + 12);
      reports.push({
        ssrc: view.getUint32(pos + 4),
        ntpMs: (seconds - NTP_UNIX_OFFSET) * 1000 + (fraction / 2 ** 32) * 1000,
        rtpTimestamp: view.getUint32(pos + 16),
      });
    }
    pos += length;
  }
  return reports;
}
