#!/bin/sh
# Copy uPlot from console/node_modules (made by `npm ci --prefix console`) into the
# console's static vendor/ folder. Idempotent; fails loudly when a file is missing.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
src="$here/node_modules/uplot/dist"
dest="$here/../src/indunet/web/static/vendor"

for f in uPlot.iife.min.js uPlot.min.css; do
    if [ ! -f "$src/$f" ]; then
        echo "vendor.sh: missing $src/$f — run 'npm ci --prefix console' first" >&2
        exit 1
    fi
done

mkdir -p "$dest"
for f in uPlot.iife.min.js uPlot.min.css; do
    cp -f "$src/$f" "$dest/$f"
done
cp -f "$here/node_modules/uplot/LICENSE" "$dest/uPlot.LICENSE" 2>/dev/null || true
echo "vendor.sh: uPlot $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$here/node_modules/uplot/package.json" | head -n 1) -> $dest"
