# Shared helpers for the test-bed scripts. Sourced, not executed.
# shellcheck shell=bash

TB_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# tb_usage FILE : print the comment block at the top of FILE (after the #! line).
tb_usage() { sed -n '2,/^[^#]/{/^#/{s/^# \{0,1\}//;p}}' "$1"; }

tb_log() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
tb_die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# Hash of versions.env: the cache directory name.
tb_hash() {
    sha256sum <"$TB_SCRIPT_DIR/versions.env" | cut -c1-12
}

# Hash of the test bed's CSI driver sources (tbcsi/*.go, tests included):
# each version is built into its own binary, tbcsi-<hash>, in the caches of
# build and build-node, so checkouts with different sources never replace
# each other's driver, and a changed source is always rebuilt.
tb_tbcsi_hash() {
    cat "$TB_SCRIPT_DIR"/tbcsi/*.go | sha256sum | cut -c1-12
}

# Cache directory holding the built binaries (outside the repository).
tb_cache_dir() {
    if [ -n "${ASTRA_TESTBED_CACHE:-}" ]; then
        printf '%s\n' "$ASTRA_TESTBED_CACHE"
    else
        printf '%s/libastra/testbed-%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}" "$(tb_hash)"
    fi
}

# Cache directory of the GCS emulator: keyed by its own version
# (gcs-version.env must be sourced first), not by versions.env.
tb_gcs_cache_dir() {
    if [ -n "${ASTRA_TB_GCS_CACHE:-}" ]; then
        printf '%s\n' "$ASTRA_TB_GCS_CACHE"
    else
        printf '%s/libastra/gcs-%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}" "$TB_GCS_VERSION"
    fi
}

# Node cache directory (tests/testbed/build-node): keyed by node-versions.env and
# the Kubernetes version lines of versions.env, separately from tb_cache_dir.
tb_node_cache_dir() {
    if [ -n "${ASTRA_TESTBED_NODE_CACHE:-}" ]; then
        printf '%s\n' "$ASTRA_TESTBED_NODE_CACHE"
    else
        printf '%s/libastra/testbed-node-%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}" \
            "$({ cat "$TB_SCRIPT_DIR/node-versions.env"; grep '^TB_K8S_' "$TB_SCRIPT_DIR/versions.env"; } | sha256sum | cut -c1-12)"
    fi
}

# Locate the node components of a completed build-node, or fail with a hint.
tb_require_node_build() {
    TB_NODE_CACHE=$(tb_node_cache_dir)
    TB_NODE_BIN=$TB_NODE_CACHE/bin
    export TB_NODE_CACHE TB_NODE_BIN
    [ -f "$TB_NODE_CACHE/.stamp" ] || tb_die "test bed node components not built (no $TB_NODE_CACHE/.stamp); run tests/testbed/build-node first"
}

# Locate the binary directory of a completed build, or fail with a hint.
tb_require_build() {
    TB_CACHE=$(tb_cache_dir)
    TB_BIN=$TB_CACHE/bin
    export TB_CACHE TB_BIN
    [ -f "$TB_CACHE/.stamp" ] || tb_die "test bed not built (no $TB_CACHE/.stamp); run tests/testbed/build first"
}

# tb_free_port VAR : store a free TCP port on 127.0.0.1 in VAR (the kernel picks it;
# the probe socket is closed again). Ports handed out by this shell are remembered
# so two calls never return the same one.
TB_PORTS_TAKEN=" "
tb_free_port() {
    local p _
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
        case "$TB_PORTS_TAKEN" in *" $p "*) continue ;; esac
        TB_PORTS_TAKEN="$TB_PORTS_TAKEN$p "
        printf -v "$1" '%s' "$p"
        return 0
    done
    tb_die "could not find a free port"
}

# tb_wait SECONDS DESCRIPTION COMMAND... : retry COMMAND every 0.2 s until it succeeds.
tb_wait() {
    local timeout=$1 what=$2; shift 2
    local deadline=$((SECONDS + timeout))
    while :; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        [ "$SECONDS" -ge "$deadline" ] && { tb_log "timed out after ${timeout}s waiting for $what"; return 1; }
        sleep 0.2
    done
}

# tb_pid_alive PID : true if PID runs (a zombie counts as dead: PID 1 may reap late).
tb_pid_alive() {
    local st
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# tb_pid_is PID NAME : true if PID is alive and runs a program whose file name is NAME
# (guards against signalling a recycled PID).
tb_pid_is() {
    local argv0
    tb_pid_alive "$1" || return 1
    argv0=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1) || return 1
    [ "$(basename -- "$argv0")" = "$2" ]
}

# tb_stop_pidfile FILE : TERM the process, KILL it after a grace period. The file
# is named after the program (NAME.pid); a PID now running something else is left alone.
tb_stop_pidfile() {
    local f=$1 pid _
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    if tb_pid_is "$pid" "$(basename "$f" .pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 "${TB_STOP_GRACE_TENTHS:-50}"); do
            tb_pid_alive "$pid" || break
            sleep 0.1
        done
        if tb_pid_alive "$pid"; then
            tb_log "$(basename "$f" .pid) (pid $pid) ignored TERM; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$f"
}

# Milliseconds since the epoch, for timings.
tb_now_ms() { date +%s%3N; }
