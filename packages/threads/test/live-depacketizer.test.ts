import { join } from 'node:path';
import { Codec, FrameFlags, type VideoCodec } from '@valkka/fs';
import { describe, expect, it } from 'vitest';
import { Depacketizer } from '../src/live/depacketizer.js';
import { parseRtp } from '../src/live/rtp.js';
import { loadClip } from '../src/sources/media-clip.js';
import { nalsOf, packetize, payloadsOf, rtpPacket } from './live-rtp.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
const CLIPS: Array<{ file: string; codec: VideoCodec }> = [
  { file: 'h264-baseline-gop1s.h264', codec: Codec.h264 },
  { file: 'h265-gop1s.h265', codec: Codec.h265 },
];

function feed(d: Depacketizer, packets: Uint8Array[]) {
  return packets.flatMap((p) => d.push(parseRtp(p)));
}

describe.each(CLIPS)('$file', ({ file, codec }) => {
  it('single NAL units, aggregates and fragments come back as the same access units', async () => {
    const clip = await loadClip(fixture(file));
    const units = clip.units.map((u) => u.payload);
    for (const mtu of [150, 60_000]) {
      const d = new Depacketizer({ codec });
      const out = feed(d, packetize(codec, units, { mtu }).flat());
      expect(out.map((u) => Buffer.from(u.payload))).toEqual(units.map((u) => Buffer.from(u)));
      expect(out.map((u) => u.rtpTimestamp)).toEqual(units.map((_u, i) => i * 3600));
      expect(out.map((u) => (u.flags & FrameFlags.key) !== 0)).toEqual(clip.units.map((u) => u.key));
      expect(d.counts).toMatchObject({ lostPackets: 0, droppedUnits: 0, units: units.length });
    }
  });

  it('a lost packet drops the broken unit and everything up to the next key frame', async () => {
    const clip = await loadClip(fixture(file));
    const units = clip.units.slice(0, 60).map((u) => u.payload);
    const packets = packetize(codec, units, { mtu: 100 });
    // A P frame of several packets in the first GOP loses its second packet.
    const lostIn = packets.findIndex((p, i) => i > 0 && !clip.units[i]!.key && p.length >= 2);
    expect(lostIn).toBeGreaterThan(0);
    const gaps: Array<[number, number]> = [];
    const d = new Depacketizer({ codec, onGap: (first, count) => gaps.push([first, count]) });
    const out = feed(d, packets.flatMap((p, i) => (i === lostIn ? [p[0]!, ...p.slice(2)] : p)));
    expect(d.counts.lostPackets).toBe(1);
    // The gap is named: the sequence number of the packet that never came.
    expect(gaps).toEqual([[parseRtp(packets[lostIn]![1]!).sequence, 1]]);
    const keyAt = clip.units.findIndex((u, i) => i > lostIn && u.key);
    // Units before the loss, then from the next key frame on: never a broken one.
    const expected = [...units.slice(0, lostIn), ...units.slice(keyAt)];
    expect(out.map((u) => Buffer.from(u.payload))).toEqual(expected.map((u) => Buffer.from(u)));
    expect(d.counts.droppedUnits).toBe(keyAt - lostIn);
  });

  it('a lost marker packet still ends the unit at the next timestamp', async () => {
    const clip = await loadClip(fixture(file));
    const units = clip.units.slice(0, 3).map((u) => u.payload);
    const packets = packetize(codec, units, { mtu: 60_000 }).map((p) => p.map((x) => x.slice()));
    for (const list of packets) for (const p of list) p[1]! &= 0x7f; // no markers at all
    const d = new Depacketizer({ codec });
    const out = feed(d, packets.flat());
    expect(out.map((u) => Buffer.from(u.payload))).toEqual(units.slice(0, 2).map((u) => Buffer.from(u)));
  });
});

describe('parameter sets', () => {
  it('are put in front of key frames from the SDP until the stream carries its own', async () => {
    const clip = await loadClip(fixture('h264-baseline-gop1s.h264'));
    const key = clip.units[0]!.payload;
    const nals = nalsOf(Codec.h264, key);
    const config = nals.filter((n) => [7, 8].includes(n[0]! & 0x1f));
    const bare = nals.filter((n) => ![7, 8].includes(n[0]! & 0x1f));
    const packets = payloadsOf(Codec.h264, bare, 1200, false).map((p, i, all) => rtpPacket({ seq: i, timestamp: 0, marker: i === all.length - 1 }, p));
    const without = feed(new Depacketizer({ codec: Codec.h264 }), packets);
    expect(without[0]!.flags).toBe(FrameFlags.key);
    const withSdp = feed(new Depacketizer({ codec: Codec.h264, parameterSets: config }), packets);
    expect(withSdp[0]!.flags).toBe(FrameFlags.key | FrameFlags.config);
    // AUD first, then the parameter sets, then the picture: exactly the original unit.
    expect(Buffer.from(withSdp[0]!.payload)).toEqual(Buffer.from(key));
  });
});

describe('hostile payloads', () => {
  it('bad aggregates, orphan fragments and unsupported types break only their unit', () => {
    const d = new Depacketizer({ codec: Codec.h264 });
    const bad = [
      new Uint8Array([24, 0, 200, 0x65]), // STAP-A size past the end
      new Uint8Array([28, 0x05, 1, 2]), // FU-A middle without a start
      new Uint8Array([25, 0, 0]), // STAP-B: unsupported
      new Uint8Array([0]), // type 0
    ];
    const out = bad.flatMap((p, i) => d.push(parseRtp(rtpPacket({ seq: i, timestamp: i * 10, marker: true }, p))));
    expect(out).toEqual([]);
    expect(d.counts.droppedUnits + d.counts.unsupportedPackets).toBeGreaterThanOrEqual(4);
    // A good key frame afterwards still comes through.
    const idr = new Uint8Array([0x65, 1, 2, 3]);
    expect(d.push(parseRtp(rtpPacket({ seq: 4, timestamp: 99, marker: true }, idr)))).toHaveLength(1);
  });

  it('an access unit beyond maxFrameBytes is dropped, not grown', () => {
    const d = new Depacketizer({ codec: Codec.h264, maxFrameBytes: 10_000 });
    const big = new Uint8Array(20_000).fill(7);
    big[0] = 0x65;
    const packets = payloadsOf(Codec.h264, [big], 1000).map((p, i, all) => rtpPacket({ seq: i, timestamp: 0, marker: i === all.length - 1 }, p));
    expect(feed(d, packets)).toEqual([]);
    expect(d.counts.droppedUnits).toBe(1);
  });
});
