#!/usr/bin/env bash
# What a user pays to install s3creds: a cold `cargo install --locked --path .` in a fresh target
# folder (the crates.io sources already downloaded, as on a second install), timed; the number of
# crates compiled; the size of the installed binary. With BASELINE_REV=<git revision>, the same for
# that revision first (from a temporary worktree), so both are measured on the same machine state.
#
# Usage: scripts/bench-build.sh            (BASELINE_REV=68ad6d3 scripts/bench-build.sh for before/after)
# Takes 5-15 minutes per build on 2 cores; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
WORK=$(mktemp -d)
cleanup() {
    [[ -d "$WORK/baseline" ]] && git -C "$ROOT" worktree remove --force "$WORK/baseline" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

measure() { # label source-folder
    local label=$1 source=$2
    (cd "$source" && cargo fetch --locked >/dev/null 2>&1)
    local start end
    start=$(date +%s.%N)
    cargo install --locked --path "$source" --root "$WORK/$label-root" --target-dir "$WORK/$label-target" \
        >"$WORK/$label.log" 2>&1 || { cat "$WORK/$label.log" >&2; exit 1; }
    end=$(date +%s.%N)
    local crates size
    crates=$(grep -c '^ *Compiling ' "$WORK/$label.log")
    size=$(stat -c %s "$WORK/$label-root/bin/s3creds")
    awk -v l="$label" -v s="$start" -v e="$end" -v c="$crates" -v b="$size" \
        'BEGIN { printf "%-10s  %8.1f s  %4d crates  %6.1f MB\n", l, e - s, c, b / 1e6 }'
    # KEEP=DIR keeps the installed binary (to benchmark it afterwards).
    [[ -n "${KEEP:-}" ]] && mkdir -p "$KEEP" && cp "$WORK/$label-root/bin/s3creds" "$KEEP/s3creds-$label"
    rm -rf "$WORK/$label-target"
}

printf '%-10s  %10s  %11s  %9s\n' build "wall time" compiled "s3creds"
if [[ -n "${BASELINE_REV:-}" ]]; then
    git worktree add --detach "$WORK/baseline" "$BASELINE_REV" >/dev/null 2>&1
    measure baseline "$WORK/baseline"
fi
measure current "$ROOT"
