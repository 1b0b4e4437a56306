#!/usr/bin/env bash
# Benchmark the object commands of s3creds against upstream s3-credentials 0.17,
# side by side, against one local moto server.
#
# Usage:
#   scripts/bench-objects.sh
#   S3CREDS=target/release/s3creds RUNS=5 scripts/bench-objects.sh
#
# Environment (defaults relative to the repository root):
#   S3CREDS      s3creds binary                  (default: target/release/s3creds)
#   UPSTREAM     upstream s3-credentials         (default: .venv/bin/s3-credentials)
#   MOTO_SERVER  moto_server executable          (default: .venv/bin/moto_server)
#   PYTHON       python with boto3 (for set-up)  (default: python next to MOTO_SERVER)
#   RUNS         timed runs per command          (default: 5)
#
# Scenarios:
#   a. put-objects of a folder of 500 files of 4 KiB (each tool into its own bucket)
#   b. get-objects of the same 500 into an empty folder (emptied by --prepare, not timed)
#   c. peak memory (/usr/bin/time -v, maximum resident set size) of put-object of a
#      64 MiB and a 256 MiB file from standard input, for both tools.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi

die() { echo "bench-objects: error: $*" >&2; exit 1; }

S3CREDS=$(realpath "${S3CREDS:-$REPO_ROOT/target/release/s3creds}") || die "s3creds binary not found (cargo build --release)"
UPSTREAM=$(realpath "${UPSTREAM:-$REPO_ROOT/.venv/bin/s3-credentials}") || die "upstream s3-credentials not found"
MOTO_SERVER=$(realpath -s "${MOTO_SERVER:-$REPO_ROOT/.venv/bin/moto_server}") || die "moto_server not found"
PYTHON=${PYTHON:-$(dirname "$MOTO_SERVER")/python}
RUNS=${RUNS:-5}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ -x "$S3CREDS" ]] || die "not executable: $S3CREDS"
command -v hyperfine >/dev/null || die "hyperfine is needed (apt-get install hyperfine)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed (apt-get install time)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-objects.XXXXXX")
MOTO_PID=""
cleanup() {
    local rc=$?
    set +e
    if [[ -n "$MOTO_PID" ]] && kill "$MOTO_PID" 2>/dev/null; then wait "$MOTO_PID" 2>/dev/null; fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fixed AWS environment: test keys, no profiles.
while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(AWS_[A-Za-z0-9_]*\)=.*/\1/p')
: > "$WORK/aws-config"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-config"
export AWS_EC2_METADATA_DISABLED=true

source "$REPO_ROOT/scripts/moto-lib.sh"
start_moto "$WORK/moto.log" "$MOTO_SERVER" || die "moto did not start (see $WORK/moto.log)"
URL=$MOTO_URL
for _ in $(seq 300); do
    "$PYTHON" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$URL/moto-api/" 2>/dev/null && break
    kill -0 "$MOTO_PID" 2>/dev/null || die "moto did not start (see $WORK/moto.log)"
    sleep 0.2
done
"$PYTHON" - "$URL" <<'EOF'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
for bucket in ("bench-upstream", "bench-s3creds"):
    s3.create_bucket(Bucket=bucket)
EOF

mkdir -p "$WORK/files"
"$PYTHON" - "$WORK/files" <<'EOF'
import os, sys
for i in range(500):
    with open(os.path.join(sys.argv[1], "f%03d.bin" % i), "wb") as f:
        f.write(os.urandom(4096))
EOF

echo "s3creds:   $S3CREDS"
echo "upstream:  $UPSTREAM ($("$UPSTREAM" --version))"
echo "moto:      $URL; hyperfine $(hyperfine --version | cut -d' ' -f2), runs=$RUNS"

hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/put.json" \
    -n upstream "$UPSTREAM put-objects bench-upstream $WORK/files -s --endpoint-url $URL" \
    -n s3creds "$S3CREDS put-objects bench-s3creds $WORK/files --silent --endpoint-url $URL" >&2
hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/get.json" \
    --prepare "rm -rf $WORK/get-upstream $WORK/get-s3creds" \
    -n upstream "$UPSTREAM get-objects bench-upstream -o $WORK/get-upstream -s --endpoint-url $URL" \
    -n s3creds "$S3CREDS get-objects bench-s3creds -o $WORK/get-s3creds --silent --endpoint-url $URL" >&2
[[ $(find "$WORK/get-s3creds" -type f | wc -l) == 500 ]] || die "s3creds did not download 500 files"

peak_kib() {  # peak_kib FILE COMMAND...: the maximum resident set size of COMMAND < FILE, in KiB
    local file=$1; shift
    /usr/bin/time -v "$@" < "$file" 2> "$WORK/time.txt" > /dev/null || { cat "$WORK/time.txt" >&2; die "failed: $*"; }
    sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$WORK/time.txt"
}
declare -A RSS
for mib in 64 256; do
    head -c $((mib * 1024 * 1024)) /dev/urandom > "$WORK/big.bin"
    RSS[upstream-$mib]=$(peak_kib "$WORK/big.bin" "$UPSTREAM" put-object bench-upstream big.bin - -s --endpoint-url "$URL")
    RSS[s3creds-$mib]=$(peak_kib "$WORK/big.bin" "$S3CREDS" put-object bench-s3creds big.bin - --silent --endpoint-url "$URL")
    rm -f "$WORK/big.bin"
done

"$PYTHON" - "$WORK" "${RSS[upstream-64]}" "${RSS[s3creds-64]}" "${RSS[upstream-256]}" "${RSS[s3creds-256]}" <<'EOF'
import json, sys
work = sys.argv[1]
print()
print("%-44s %12s %12s %8s" % ("scenario (median)", "upstream", "s3creds", "ratio"))
for name, label in (("put", "a. put-objects, 500 x 4 KiB"), ("get", "b. get-objects, 500 x 4 KiB")):
    results = {r["command"]: r["median"] for r in json.load(open("%s/%s.json" % (work, name)))["results"]}
    up, us = results["upstream"], results["s3creds"]
    print("%-44s %10.0f ms %10.0f ms %8.3f" % (label, up * 1000, us * 1000, us / up))
up64, us64, up256, us256 = (int(v) / 1024 for v in sys.argv[2:6])
print("%-44s %9.0f MiB %9.0f MiB %8.3f" % ("c. put-object from stdin, 64 MiB: peak RSS", up64, us64, us64 / up64))
print("%-44s %9.0f MiB %9.0f MiB %8.3f" % ("   put-object from stdin, 256 MiB: peak RSS", up256, us256, us256 / up256))
EOF
