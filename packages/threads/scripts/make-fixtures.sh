#!/usr/bin/env bash
# Generates the small media fixtures of @valkka/threads into test/fixtures/ (committed; rerun only to change them).
# Every frame carries its frame number as a 16-bit binary code in a band at the top: see test/fixtures/README.md.
set -euo pipefail
cd "$(dirname "$0")/../test/fixtures"

W=320 H=240 FPS=25 SECONDS=10
# Bit i (0 = least significant) is the square at x in [20*i, 20*i+20), y in [0, 20): white = 1, black = 0.
CODE="geq=lum='if(lt(Y,20),if(mod(floor(N/pow(2,floor(X/20))),2),255,0),lum(X,Y))':cb='if(lt(Y,20),128,cb(X,Y))':cr='if(lt(Y,20),128,cr(X,Y))'"
COMMON=(-hide_banner -loglevel error -y -t "$SECONDS")

# H.264 baseline, GOP 1 s, parameter sets and an AUD before every key frame, no B-frames.
ffmpeg "${COMMON[@]}" -f lavfi -i "testsrc2=size=${W}x${H}:rate=${FPS}" -vf "$CODE" \
  -c:v libx264 -profile:v baseline -pix_fmt yuv420p -crf 30 -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 \
  -x264-params repeat-headers=1:aud=1 -f h264 h264-baseline-gop1s.h264

# H.264 high profile, GOP 2 s, parameter sets only at the start (the source must repeat them itself).
ffmpeg "${COMMON[@]}" -f lavfi -i "testsrc=size=${W}x${H}:rate=${FPS}" -vf "$CODE" \
  -c:v libx264 -profile:v high -level 4.0 -pix_fmt yuv420p -crf 30 -g 50 -keyint_min 50 -sc_threshold 0 -bf 0 \
  -f h264 h264-high-gop2s.h264

# H.265, GOP 1 s, no B-frames, parameter sets (VPS/SPS/PPS) before every key frame.
ffmpeg "${COMMON[@]}" -f lavfi -i "smptebars=size=${W}x${H}:rate=${FPS}" -vf "$CODE" \
  -c:v libx265 -pix_fmt yuv420p -crf 30 \
  -x265-params keyint=25:min-keyint=25:scenecut=0:bframes=0:repeat-headers=1:log-level=error \
  -f hevc h265-gop1s.h265

# The baseline H.264 clip in MP4 (same access units, AVCC framing, parameter sets in avcC).
ffmpeg -hide_banner -loglevel error -y -r "$FPS" -i h264-baseline-gop1s.h264 -c copy -movflags +faststart h264-baseline-gop1s.mp4

# The H.265 clip in MP4 (hvcC record).
ffmpeg -hide_banner -loglevel error -y -r "$FPS" -i h265-gop1s.h265 -c copy -tag:v hvc1 -movflags +faststart h265-gop1s.mp4

ls -l ./*.h264 ./*.h265 ./*.mp4
