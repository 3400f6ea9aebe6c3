#!/usr/bin/env bash
# Side by side, one run: WebTorrent 3 browser-to-browser (the harness in
# ../shared/bench/webtorrent) and swarmgate (a cold gateway per run in front
# of one UDP seeder) on the same 44 MiB 720p clip, on this machine.
#   test/browser/compare.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
wt=${WEBTORRENT_BENCH:-../shared/bench/webtorrent}
clip=/tmp/webtorrent-bench/clip.mp4
echo "== WebTorrent 3 ($wt/run.sh --runs $runs)"
"$wt/run.sh" "$clip" --runs "$runs" | tail -n 1
echo "== swarmgate (test/browser/run.sh --bench --clip $clip --runs $runs)"
test/browser/run.sh --bench --clip "$clip" --runs "$runs" --timeout 120
