# Sourced by scripts/bench-serve.sh and scripts/bench-exec.sh: the set-up both latency benchmarks share.
# Expects ROOT (the repository), BENCH (the script's name, for messages), S3CREDS and, optionally,
# BASELINE (binaries). Re-runs the script in a session keyring of its own first: the kernel keyring
# cache needs one.
if [[ -z "${S3CREDS_BENCH_IN_SESSION:-}" ]]; then
    export S3CREDS_BENCH_IN_SESSION=1
    exec keyctl session - "$0" "$@"
fi

fail() { echo "$BENCH: $*" >&2; exit 1; }
[[ -x "$S3CREDS" ]] || fail "build first: cargo build --release (or set S3CREDS)"
[[ -z "${BASELINE:-}" || -x "$BASELINE" ]] || fail "BASELINE=$BASELINE is not an executable"
command -v hyperfine >/dev/null || { apt-get install -y hyperfine >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y hyperfine >/dev/null; }; }

PY="$ROOT/.venv/bin/python"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; fail "$1 did not come up"; }

# Measured as installed: each binary is copied first, as `cargo install` copies it. The linker's own
# output file starts about 0.6 ms slower on this VM (same bytes; the page cache holds it as the linker
# wrote it, in small pieces), which would blur a comparison of two builds.
as_installed() { mkdir -p "$WORK/$2" && cp "$1" "$WORK/$2/s3creds" && echo "$WORK/$2/s3creds"; }
S3CREDS=$(as_installed "$S3CREDS" now)
if [[ -n "${BASELINE:-}" ]]; then BASELINE=$(as_installed "$BASELINE" baseline); fi

# One moto server on a loopback port of its own: MOTO_PORT.
source "$ROOT/scripts/moto-lib.sh"
start_moto "$WORK/moto.log" || fail "moto did not start: $(cat "$WORK/moto.log")"
PIDS+=("$MOTO_PID")
wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/"
