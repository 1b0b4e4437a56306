#!/usr/bin/env bash
# Benchmark `exec` and the credentials endpoint side by side, in one hyperfine run, against one
# local moto server (kernel keyring cache, warm):
#   - `/bin/true`, `s3creds exec BUCKET -- /bin/true` and the same with `--env`: what exec adds to
#     a command's start, with its endpoint and with plain variables (the command replacing s3creds);
#   - `s3creds serve BUCKET` on a cache hit: the credential_process path, for comparison;
#   - `curl` with the token against `serve --http`: one endpoint request answered from memory, and
#     `curl` for a 404 of the same endpoint (no credentials touched) as the floor of starting curl;
#   - then `/bin/true`, both `exec` rows and the `serve` hit again, interleaved (scripts/interleave.py,
#     INTERLEAVED rounds, 1000 by default): on a VM whose speed drifts between hyperfine's blocks, these
#     are the figures to compare. BASELINE=/path/to/another/s3creds adds its `exec` row there.
#     SETTLE_MS=N waits N ms after each command there, so that an endpoint process ending after its
#     command (at once now; within 50 ms before the pidfd) does not slow the next command measured.
#
# Usage: scripts/bench-exec.sh     (RUNS=200 by default; S3CREDS=target/release/s3creds)
# Needs: scripts/setup-test-env.sh done, keyutils, curl, hyperfine (installed with apt-get if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

BENCH=bench-exec
S3CREDS=${S3CREDS:-$ROOT/target/release/s3creds}
RUNS=${RUNS:-200}
source "$ROOT/scripts/bench-lib.sh"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export S3CREDS_CACHE_DIR="$WORK/cache" S3CREDS_KEYRING=keyutils
unset AWS_PROFILE DBUS_SESSION_BUS_ADDRESS
"$PY" -c 'import boto3, os; boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(Bucket="bench-exec")'

"$S3CREDS" serve bench-exec >/dev/null   # fill the cache and remember the role

"$S3CREDS" serve bench-exec --http >"$WORK/http.env" 2>"$WORK/http.log" &
PIDS+=($!)
for _ in $(seq 200); do [[ $(wc -l <"$WORK/http.env") -ge 2 ]] && break; sleep 0.05; done
URI=$(sed -n 's/^AWS_CONTAINER_CREDENTIALS_FULL_URI=//p' "$WORK/http.env")
TOKEN=$(sed -n 's/^AWS_CONTAINER_AUTHORIZATION_TOKEN=//p' "$WORK/http.env")
[[ -n "$URI" && -n "$TOKEN" ]] || { echo "bench-exec: serve --http did not start: $(cat "$WORK/http.log")" >&2; exit 1; }
# The token goes to curl through a file, never on a command line others can read.
printf 'header = "Authorization: %s"\n' "$TOKEN" >"$WORK/curl.cfg"
chmod 600 "$WORK/curl.cfg"

hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/exec.json" \
    -n "/bin/true (floor)" "/bin/true" \
    -n "s3creds exec -- /bin/true" "$S3CREDS exec bench-exec -- /bin/true" \
    -n "s3creds exec --env -- /bin/true" "$S3CREDS exec bench-exec --env -- /bin/true" \
    -n "s3creds serve (cache hit)" "$S3CREDS serve bench-exec" \
    -n "curl, endpoint 404 (curl's floor)" "curl -s ${URI%/credentials}/nothing" \
    -n "curl, endpoint credentials (token)" "curl -s -K $WORK/curl.cfg $URI" >"$WORK/exec.txt"

"$PY" - "$WORK/exec.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
print(f"{'command':40} {'median':>10} {'mean':>10}")
for r in rows:
    print(f"{r['command']:40} {r['median']*1000:8.2f}ms {r['mean']*1000:8.2f}ms")
by = {r["command"]: r["median"] for r in rows}
print()
# What a credential_process user pays per SDK start is a whole `serve` process (its start included);
# what an `exec` user pays is exec's time beyond the command's own.
print(f"exec adds to /bin/true:              {(by['s3creds exec -- /bin/true'] - by['/bin/true (floor)'])*1000:.2f} ms")
print(f"exec --env adds to /bin/true:        {(by['s3creds exec --env -- /bin/true'] - by['/bin/true (floor)'])*1000:.2f} ms")
print(f"one serve cache hit (whole process): {by['s3creds serve (cache hit)']*1000:.2f} ms")
print(f"endpoint answer beyond curl's floor: {(by['curl, endpoint credentials (token)'] - by['curl, endpoint 404 (curl' + chr(39) + 's floor)'])*1000:.3f} ms")
PY

echo
"$S3CREDS" serve bench-exec >/dev/null
ROWS=(true=/bin/true "serve=$S3CREDS serve bench-exec" "exec=$S3CREDS exec bench-exec -- /bin/true"
      "exec --env=$S3CREDS exec bench-exec --env -- /bin/true")
if [[ -n "${BASELINE:-}" ]]; then
    "$BASELINE" serve bench-exec >/dev/null
    ROWS+=("baseline exec=$BASELINE exec bench-exec -- /bin/true")
fi
"$PY" "$ROOT/scripts/interleave.py" "${INTERLEAVED:-1000}" "${ROWS[@]}"
