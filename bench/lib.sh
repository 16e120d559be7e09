# Shared helpers for the benchmark scripts. Sourced, not executed.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

bench_log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
bench_now_ms() { date +%s%3N; }

# Hash of versions.env: the peer cache directory's name.
bench_hash() { sha256sum <"$BENCH_DIR/versions.env" | cut -c1-12; }

# Cache directory holding the peer binaries (outside the repository).
bench_cache_dir() {
    if [ -n "${ASTRA_BENCH_CACHE:-}" ]; then
        printf '%s\n' "$ASTRA_BENCH_CACHE"
    else
        printf '%s/libastra/bench-%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}" "$(bench_hash)"
    fi
}

# Install a Debian package when its command is missing (root only).
bench_need() { # bench_need COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] || bench_die "$1 missing: apt-get install $2"
    bench_log "installing Debian package $2 (for $1)"
    apt-get install -y -q "$2" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$2" >/dev/null; } \
        || bench_die "apt-get install $2 failed"
}
