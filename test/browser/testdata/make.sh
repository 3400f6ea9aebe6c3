#!/usr/bin/env bash
# Makes the browser tests' small WebM and MP3 files (committed; run again
# only to change them). Needs ffmpeg with libvpx, libopus and libmp3lame.
set -euo pipefail
cd "$(dirname "$0")"
# 40 s of 320x180 VP8 (a keyframe every 2 s) with Vorbis audio, ~400 KB:
# longer than a read (256 KiB) so that a seek can land where nothing is
# buffered; not VP9 and Opus, which the page once assumed every WebM held.
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=320x180:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t 40 -c:v libvpx -b:v 60k -g 50 -deadline good -cpu-used 4 -c:a libvorbis -q:a 0 -ac 1 clip.webm
# 5 s of a 660 Hz tone, MP3 48 kbit/s mono, ~30 KB.
ffmpeg -hide_banner -loglevel error -y -f lavfi -i sine=frequency=660:sample_rate=44100 -t 5 -c:a libmp3lame -b:a 48k -ac 1 tone.mp3
