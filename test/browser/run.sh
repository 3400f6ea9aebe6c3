#!/usr/bin/env bash
# The browser tests: headless Debian Chromium driven by playwright-core,
# inside a network namespace that holds only loopback (unshare -n; needs
# root, or user namespaces), against a real gateway and a real UDP seeder
# built from this repository (bin/swarmgate). Extra arguments go to e2e.mjs
# (--bench CLIP prints the figures of a larger clip).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x /usr/lib/chromium/chromium ] || { echo "browser tests need Debian's chromium: apt-get install -y chromium" >&2; exit 2; }
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
[ -x bin/swarmgate ] || { echo "run make build first" >&2; exit 2; }
[ -f ui/static/wasm/swarmgate.wasm ] || { echo "run make wasm first" >&2; exit 2; }
un=(unshare -n)
[ "$(id -u)" = 0 ] || un=(unshare -rn)
exec "${un[@]}" sh -c 'ip link set lo up && exec node test/browser/e2e.mjs "$@"' e2e "$@"
