// Test-side packetizer: access units to RTP packets as a camera sends them (RFC 6184 / RFC 7798).
import { Codec, findNalUnits, type VideoCodec } from '@valkka/fs';

export function rtpPacket(fields: { seq: number; timestamp: number; marker?: boolean; pt?: number; ssrc?: number }, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(12 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x80;
  p[1] = (fields.marker ? 0x80 : 0) | (fields.pt ?? 96);
  v.setUint16(2, fields.seq & 0xffff);
  v.setUint32(4, fields.timestamp >>> 0);
  v.setUint32(8, fields.ssrc ?? 0x1234);
  p.set(payload, 12);
  return p;
}

/** The NAL units of an Annex-B access unit, without start codes. */
export function nalsOf(codec: VideoCodec, au: Uint8Array): Uint8Array[] {
  return findNalUnits(codec, au).map((n) => au.subarray(n.start, n.end));
}

/**
 * RTP payloads of one access unit: NAL units up to `mtu` bytes go alone, or (aggregate) small ones together
 * in STAP-A / AP; larger ones are cut into FU-A / FU fragments.
 */
export function payloadsOf(codec: VideoCodec, nals: Uint8Array[], mtu = 1200, aggregate = true): Uint8Array[] {
  const h264 = codec === Codec.h264;
  const hdr = h264 ? 1 : 2;
  const out: Uint8Array[] = [];
  let group: Uint8Array[] = [];
  const flush = (): void => {
    if (group.length === 1) out.push(group[0]!);
    else if (group.length > 1) {
      const size = hdr + group.reduce((n, g) => n + 2 + g.length, 0);
      const p = new Uint8Array(size);
      if (h264) p[0] = (group[0]![0]! & 0x60) | 24;
      else {
        p[0] = 48 << 1;
        p[1] = 1;
      }
      let pos = hdr;
      for (const g of group) {
        p[pos] = g.length >> 8;
        p[pos + 1] = g.length & 255;
        p.set(g, pos + 2);
        pos += 2 + g.length;
      }
      out.push(p);
    }
    group = [];
  };
  for (const nal of nals) {
    if (nal.length <= mtu) {
      if (!aggregate) {
        out.push(nal);
        continue;
      }
      const groupBytes = group.reduce((n, g) => n + 2 + g.length, hdr);
      if (groupBytes + 2 + nal.length > mtu) flush();
      group.push(nal);
      continue;
    }
    flush();
    const type = h264 ? nal[0]! & 0x1f : (nal[0]! >> 1) & 0x3f;
    const body = nal.subarray(hdr);
    for (let pos = 0; pos < body.length; pos += mtu) {
      const piece = body.subarray(pos, pos + mtu);
      const s = pos === 0 ? 0x80 : 0;
      const e = pos + mtu >= body.length ? 0x40 : 0;
      const p = new Uint8Array((h264 ? 2 : 3) + piece.length);
      if (h264) {
        p[0] = (nal[0]! & 0xe0) | 28;
        p[1] = s | e | type;
      } else {
        p[0] = (nal[0]! & 0x81) | (49 << 1);
        p[1] = nal[1]!;
        p[2] = s | e | type;
      }
      p.set(piece, h264 ? 2 : 3);
      out.push(p);
    }
  }
  flush();
  return out;
}

/** RTP packets of a sequence of access units, 90 kHz timestamps `ticks` apart, marker on each unit's last packet. */
export function packetize(codec: VideoCodec, units: Uint8Array[], options: { ticks?: number; firstSeq?: number; firstTs?: number; mtu?: number } = {}): Uint8Array[][] {
  let seq = options.firstSeq ?? 1000;
  return units.map((au, i) => {
    const payloads = payloadsOf(codec, nalsOf(codec, au), options.mtu);
    const ts = (options.firstTs ?? 0) + i * (options.ticks ?? 3600);
    return payloads.map((p, j) => rtpPacket({ seq: seq++, timestamp: ts, marker: j === payloads.length - 1 }, p));
  });
}
