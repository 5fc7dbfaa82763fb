#!/bin/sh
# Copy the console's front-end libraries from console/node_modules (made by `npm ci --prefix console`)
# into src/indunet/web/static/vendor/: uPlot for the charts, Swagger UI for the offline /docs page.
# Idempotent; fails loudly when a file is missing.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
modules="$here/node_modules"
dest="$here/../src/indunet/web/static/vendor"

# source path under node_modules -> name in vendor/
files="
uplot/dist/uPlot.iife.min.js uPlot.iife.min.js
uplot/dist/uPlot.min.css uPlot.min.css
uplot/LICENSE uPlot.LICENSE
swagger-ui-dist/swagger-ui-bundle.js swagger-ui-bundle.js
swagger-ui-dist/swagger-ui.css swagger-ui.css
swagger-ui-dist/LICENSE swagger-ui.LICENSE
"

echo "$files" | while read -r src name; do
    [ -n "$src" ] || continue
    if [ ! -f "$modules/$src" ]; then
        echo "vendor.sh: missing $modules/$src — run 'npm ci --prefix console' first" >&2
        exit 1
    fi
done

mkdir -p "$dest"
echo "$files" | while read -r src name; do
    [ -n "$src" ] || continue
    cp -f "$modules/$src" "$dest/$name"
done
echo "vendor.sh: front-end libraries copied to $dest"
