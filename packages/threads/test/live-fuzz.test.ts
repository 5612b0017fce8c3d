// Everything a camera sends is untrusted: random and mutated input gives LiveErrors only, and memory stays bounded.
import { Codec } from '@valkka/fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Depacketizer } from '../src/live/depacketizer.js';
import { LiveError } from '../src/live/live-error.js';
import { parseRtcp, parseRtp } from '../src/live/rtp.js';
import { MAX_BODY_BYTES, MAX_HEAD_BYTES, RtspReader } from '../src/live/rtsp-message.js';
import { decodeParameterSets, parseSdp } from '../src/live/sdp.js';
import { parseChallenges } from '../src/live/auth.js';

/** Runs fn; an error other than a LiveError fails the property. Returns whether it threw. */
function onlyLiveErrors(fn: () => void): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    if (!(err instanceof LiveError)) throw new Error(`not a LiveError: ${String(err)}`, { cause: err });
    expect(err.message.length).toBeGreaterThan(0);
    return true;
  }
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const RESPONSE = enc(
  'RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Base: rtsp://127.0.0.1:8554/x/\r\nContent-Type: application/sdp\r\nContent-Length: 12\r\n\r\nv=0\r\ns=cam\r\n',
);
const SDP =
  'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==\r\na=control:stream=0\r\n';

/** A byte array with a few random bytes changed, inserted or cut. */
const mutated = (base: Uint8Array) =>
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'cut')), { maxLength: 8 }).map((edits) => {
    let bytes = Array.from(base);
    for (const [at, value, op] of edits) {
      const i = at % (bytes.length + 1);
      if (op === 'set') bytes[i] = value;
      else if (op === 'insert') bytes.splice(i, 0, value);
      else bytes = bytes.slice(0, i);
    }
    return new Uint8Array(bytes);
  });

describe('fuzzing', () => {
  it('RtspReader: random and mutated streams in random chunks', () => {
    const stream = fc.oneof(fc.uint8Array({ maxLength: 4000 }), mutated(RESPONSE), fc.array(mutated(RESPONSE), { maxLength: 5 }).map((l) => Buffer.concat(l)));
    fc.assert(
      fc.property(stream, fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 20 }), (bytes, cuts) => {
        const reader = new RtspReader();
        let pos = 0;
        let i = 0;
        onlyLiveErrors(() => {
          while (pos < bytes.length) {
            const size = cuts[i++ % cuts.length]!;
            reader.push(bytes.subarray(pos, pos + size));
            pos += size;
            // What is kept between chunks never exceeds one bounded message.
            expect((reader as unknown as { pending: Uint8Array }).pending.length).toBeLessThanOrEqual(MAX_HEAD_BYTES + MAX_BODY_BYTES + 4 + 600);
          }
        });
      }),
      { numRuns: 400 },
    );
  });

  it('RtspReader: an endless head or body is refused, never buffered without bound', () => {
    const reader = new RtspReader();
    const chunk = enc('X-Junk: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n');
    let threw = false;
    reader.push(enc('RTSP/1.0 200 OK\r\n'));
    for (let i = 0; i < 10_000 && !threw; i++) threw = onlyLiveErrors(() => reader.push(chunk));
    expect(threw).toBe(true);
  });

  it('SDP: random and mutated text', () => {
    const text = fc.oneof(fc.string({ maxLength: 2000 }), mutated(enc(SDP)).map((b) => Buffer.from(b).toString('latin1')));
    fc.assert(
      fc.property(text, (t) => {
        onlyLiveErrors(() => {
          const sdp = parseSdp(t);
          for (const m of sdp.media) decodeParameterSets(m.fmtp['sprop-parameter-sets'], 'sprop-parameter-sets');
        });
      }),
      { numRuns: 500 },
    );
  });

  it('RTP, RTCP and authentication challenges: random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        onlyLiveErrors(() => parseRtp(bytes));
        onlyLiveErrors(() => parseRtcp(bytes));
        onlyLiveErrors(() => parseChallenges([Buffer.from(bytes).toString('latin1')]));
      }),
      { numRuns: 1000 },
    );
  });

  it('depacketizer: random payloads and sequence numbers never throw, never pass on more than the bound', () => {
    for (const codec of [Codec.h264, Codec.h265] as const) {
      fc.assert(
        fc.property(
          fc.array(fc.record({ seq: fc.integer({ min: 0, max: 0xffff }), ts: fc.integer({ min: 0, max: 5 }), marker: fc.boolean(), payload: fc.uint8Array({ maxLength: 3000 }) }), { maxLength: 60 }),
          (packets) => {
            const d = new Depacketizer({ codec, maxFrameBytes: 20_000 });
            for (const p of packets) {
              for (const unit of d.push({ payloadType: 96, marker: p.marker, sequence: p.seq, timestamp: p.ts, ssrc: 1, payload: p.payload })) {
                expect(unit.payload.length).toBeLessThanOrEqual(20_000 + 1000);
                expect(Array.from(unit.payload.subarray(0, 4))).toEqual([0, 0, 0, 1]);
              }
            }
          },
        ),
        { numRuns: 300 },
      );
    }
  });
});
