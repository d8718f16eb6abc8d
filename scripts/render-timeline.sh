#!/usr/bin/env bash
# Render the demo's timeline SVG to docs/timeline.png with headless Chromium
# (Debian package chromium), for the README.  Run `make demo` first.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
svg=${1:-/tmp/mojob-demo/timeline.svg}
command -v chromium >/dev/null || "$top/scripts/as-root.sh" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends chromium
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
size=$(sed -n 's/.*<svg[^>]* width="\([0-9]*\)" height="\([0-9]*\)".*/\1,\2/p' "$svg" | head -1)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size="$size" \
    --screenshot="$top/docs/timeline.png" "file://$svg" 2>/dev/null
echo "wrote docs/timeline.png from $svg"
