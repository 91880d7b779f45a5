#!/bin/sh
# Points per hour of a 20-point sweep with a cold and then a warm cache (Verilator builds and
# synthesis results under a fresh SUBTILE_CACHE; ccache may still hold C++ objects).
# Usage: bench/sweep_rate.sh [JOBS]
set -e
jobs=${1:-2}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
export SUBTILE_CACHE="$tmp/cache"
uptime
echo "cold cache:"
subtile sweep "$here/sweep20.toml" -j "$jobs" --db "$tmp/cold.sqlite" --quiet
uptime
echo "warm cache (new database, same caches):"
subtile sweep "$here/sweep20.toml" -j "$jobs" --db "$tmp/warm.sqlite" --quiet
uptime
rm -rf "$tmp"
