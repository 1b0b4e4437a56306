#!/usr/bin/env bash
# Benchmark `s3creds create` against upstream `s3-credentials create` (0.17),
# side by side, against one local moto server.
#
# Usage:
#   scripts/bench-create.sh
#   S3CREDS=target/release/s3creds RUNS=20 scripts/bench-create.sh
#
# Environment (relative paths are resolved against the current directory;
# the defaults are relative to the repository root):
#   S3CREDS      s3creds binary                  (default: target/release/s3creds)
#   UPSTREAM     upstream s3-credentials         (default: .venv/bin/s3-credentials)
#   MOTO_SERVER  moto_server executable          (default: .venv/bin/moto_server)
#   PYTHON       python with boto3 (for set-up)  (default: python next to MOTO_SERVER)
#   RUNS         timed runs per command          (default: 10)
#   OUT_DIR      where hyperfine JSON and logs go (default: a new /tmp/bench-create.* dir)
#
# Scenarios (each with both tools):
#   a. temporary credentials, one bucket:
#        create --endpoint-url URL --duration 15m --silent bench-b1
#      State is set up once (bucket exists, IAM warmed); the warm-up run creates
#      the s3-credentials.AmazonS3FullAccess role, so timed runs measure the
#      steady state (role already exists).
#   b. permanent credentials, ten buckets:
#        create --endpoint-url URL --silent bench-b1 ... bench-b10
#      Every run (warm-up included) starts from fresh state via --prepare:
#      moto reset, re-create the ten buckets, warm the IAM/STS backends (the
#      first IAM call after a reset loads all AWS managed policies, ~1 s, and
#      must not be timed).  Set-up time is not measured.
#
# AWS call counts: before timing, each tool runs once per scenario from fresh
# state (plus a second scenario-a run, role then existing) through
# scripts/counting_proxy.py.  This doubles as a sanity check - a tool that
# fails or prints no credentials aborts the script with its stderr.  The
# calls are printed by action after the timing table.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi

die() { echo "bench-create: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

# Resolve a user-supplied program path to something absolute and runnable.
resolve() {
    local p=$1
    if [[ "$p" == */* ]]; then
        [[ -e "$p" ]] || return 1
        (cd "$(dirname "$p")" && printf '%s/%s\n' "$(pwd)" "$(basename "$p")")
    else
        command -v "$p" || return 1
    fi
}

S3CREDS_IN=${S3CREDS:-$REPO_ROOT/target/release/s3creds}
UPSTREAM_IN=${UPSTREAM:-$REPO_ROOT/.venv/bin/s3-credentials}
MOTO_IN=${MOTO_SERVER:-$REPO_ROOT/.venv/bin/moto_server}
RUNS=${RUNS:-10}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"

S3CREDS=$(resolve "$S3CREDS_IN") || die "s3creds binary not found: $S3CREDS_IN (build it with 'cargo build --release' or set S3CREDS=...)"
[[ -x "$S3CREDS" ]] || die "s3creds binary is not executable: $S3CREDS"
UPSTREAM=$(resolve "$UPSTREAM_IN") || die "upstream s3-credentials not found: $UPSTREAM_IN (set UPSTREAM=...)"
MOTO_SERVER=$(resolve "$MOTO_IN") || die "moto_server not found: $MOTO_IN (set MOTO_SERVER=...)"
PYTHON_IN=${PYTHON:-$(dirname "$MOTO_SERVER")/python}
PYTHON=$(resolve "$PYTHON_IN") || die "python not found: $PYTHON_IN (set PYTHON=... to a python with boto3)"
"$PYTHON" -c 'import boto3' 2>/dev/null || die "$PYTHON cannot import boto3"
PROXY="$SCRIPT_DIR/counting_proxy.py"
[[ -f "$PROXY" ]] || die "missing $PROXY"

if ! command -v hyperfine >/dev/null 2>&1; then
    note "hyperfine not found; installing it with apt-get"
    apt-get install -y hyperfine >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y hyperfine >/dev/null 2>&1; } \
        || die "could not install hyperfine"
fi

OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bench-create.XXXXXX")}
mkdir -p "$OUT_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-create-work.XXXXXX")

MOTO_PID=""
PROXY_PID=""
cleanup() {
    local rc=$?
    set +e
    local pid
    for pid in "$PROXY_PID" "$MOTO_PID"; do
        if [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
        fi
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- AWS environment: fixed test credentials, no profiles or config -------
while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(AWS_[A-Za-z0-9_]*\)=.*/\1/p')
: > "$WORK/aws-config"
: > "$WORK/aws-credentials"
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export AWS_CONFIG_FILE="$WORK/aws-config"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
export AWS_EC2_METADATA_DISABLED=true

# ---- helper python (bucket set-up, JSON summaries) -------------------------
cat > "$WORK/prep.py" <<'EOF'
"""prep.py URL NBUCKETS: reset moto, create bench-b1..bench-bN, warm IAM/STS."""
import sys, urllib.request
import boto3
url, n = sys.argv[1], int(sys.argv[2])
urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST")).read()
session = boto3.session.Session()
s3 = session.client("s3", endpoint_url=url)
for i in range(1, n + 1):
    s3.create_bucket(Bucket="bench-b%d" % i)
# The first IAM request after a reset loads every AWS managed policy
# (MOTO_IAM_LOAD_MANAGED_POLICIES=true) - do it here, outside the timing.
session.client("iam", endpoint_url=url).list_users()
session.client("sts", endpoint_url=url).get_caller_identity()
EOF

cat > "$WORK/report.py" <<'EOF'
import json, sys

def medians(path):
    with open(path) as f:
        res = json.load(f)["results"]
    return [(r["command"], r["median"], r["min"], r["max"], r["mean"], r["stddev"]) for r in res]

def fmt(s):
    return "%8.1f ms" % (s * 1000)

def timing(out_dir, runs):
    rows = [("a", "temporary creds, 1 bucket (--duration 15m)", "a.json"),
            ("b", "permanent creds, 10 buckets", "b.json")]
    print()
    print("Timing (hyperfine, %s runs + 1 warm-up; median [min .. max])" % runs)
    print("-" * 100)
    print("%-46s %-24s %-24s %s" % ("scenario", "upstream", "s3creds", "s3creds/upstream"))
    for key, label, fname in rows:
        (_, um, umin, umax, _, _), (_, sm, smin, smax, _, _) = medians("%s/%s" % (out_dir, fname))
        print("%-46s %-24s %-24s %.3f" % (
            key + ". " + label,
            "%s [%.0f..%.0f]" % (fmt(um), umin * 1000, umax * 1000),
            "%s [%.0f..%.0f]" % (fmt(sm), smin * 1000, smax * 1000),
            sm / um))
    print("-" * 100)

def counts(out_dir):
    print()
    print("AWS calls per single run (through counting proxy)")
    for key, label, runs in (
        ("a", "temporary creds, 1 bucket, fresh state (role does not exist yet)", "a-fresh"),
        ("a", "temporary creds, 1 bucket, second run (role exists)", "a-again"),
        ("b", "permanent creds, 10 buckets, fresh state", "b-fresh"),
    ):
        data = {}
        for tool in ("upstream", "s3creds"):
            with open("%s/calls-%s-%s.json" % (out_dir, runs, tool)) as f:
                data[tool] = json.load(f)
        actions = sorted(set(data["upstream"]["by_action"]) | set(data["s3creds"]["by_action"]))
        width = max([len(a) for a in actions] + [30])
        print("-" * (width + 22))
        print("%s. %s" % (key, label))
        print("  %-*s %9s %9s" % (width, "action", "upstream", "s3creds"))
        for a in actions:
            print("  %-*s %9s %9s" % (width, a,
                  data["upstream"]["by_action"].get(a, "-"),
                  data["s3creds"]["by_action"].get(a, "-")))
        print("  %-*s %9d %9d" % (width, "TOTAL", data["upstream"]["total"], data["s3creds"]["total"]))
    print("-" * 52)

if __name__ == "__main__":
    what, out_dir = sys.argv[1], sys.argv[2]
    if what == "timing":
        timing(out_dir, sys.argv[3])
    else:
        counts(out_dir)
EOF

wait_http() {  # wait_http URL SECONDS PID
    local url=$1 deadline=$((SECONDS + $2)) pid=$3
    until "$PYTHON" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).read()' "$url" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# ---- moto server ------------------------------------------------------------
source "$REPO_ROOT/scripts/moto-lib.sh"
start_moto "$OUT_DIR/moto.log" "$MOTO_SERVER" && wait_http "$MOTO_URL/moto-api/" 60 "$MOTO_PID" \
    || die "moto server did not start (see $OUT_DIR/moto.log)"
URL=$MOTO_URL

# ---- counting proxy -----------------------------------------------------------
"$PYTHON" "$PROXY" --listen-port 0 --upstream "$URL" --log "$OUT_DIR/calls.log" \
    > "$WORK/proxy.out" 2> "$OUT_DIR/proxy.err" &
PROXY_PID=$!
for _ in $(seq 100); do
    grep -q '^READY ' "$WORK/proxy.out" 2>/dev/null && break
    kill -0 "$PROXY_PID" 2>/dev/null || die "counting proxy died (see $OUT_DIR/proxy.err)"
    sleep 0.1
done
PROXY_PORT=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$WORK/proxy.out")
[[ -n "$PROXY_PORT" ]] || die "counting proxy did not report READY"
PROXY_URL="http://127.0.0.1:$PROXY_PORT"

echo "s3creds:   $S3CREDS"
echo "upstream:  $UPSTREAM ($("$UPSTREAM" --version 2>/dev/null || echo '?'))"
echo "moto:      $URL (pid $MOTO_PID), counting proxy $PROXY_URL"
echo "hyperfine: $(hyperfine --version), runs=$RUNS"
echo "results:   $OUT_DIR"

BUCKETS10=(bench-b1 bench-b2 bench-b3 bench-b4 bench-b5 bench-b6 bench-b7 bench-b8 bench-b9 bench-b10)

prep() { "$PYTHON" "$WORK/prep.py" "$URL" "$1"; }

proxy_ctl() {  # proxy_ctl METHOD PATH
    "$PYTHON" -c 'import sys,urllib.request; print(urllib.request.urlopen(urllib.request.Request(sys.argv[1], method=sys.argv[2])).read().decode())' \
        "$PROXY_URL$2" "$1"
}

# count_calls NAME TOOL ARGS...: one run through the proxy; also a sanity check.
count_calls() {
    local name=$1 tool=$2; shift 2
    local bin=$S3CREDS; [[ "$tool" == upstream ]] && bin=$UPSTREAM
    proxy_ctl POST /__proxy/reset >/dev/null
    echo "# $name $tool" >> "$OUT_DIR/calls.log"
    if ! "$bin" create --endpoint-url "$PROXY_URL" "$@" \
        > "$OUT_DIR/out-$name-$tool.txt" 2> "$OUT_DIR/err-$name-$tool.txt"; then
        echo "---- stderr ----" >&2; cat "$OUT_DIR/err-$name-$tool.txt" >&2
        die "$tool failed: $bin create --endpoint-url $PROXY_URL $*"
    fi
    grep -q AccessKeyId "$OUT_DIR/out-$name-$tool.txt" \
        || die "$tool printed no credentials for '$name' (see $OUT_DIR/out-$name-$tool.txt)"
    proxy_ctl GET /__proxy/count > "$OUT_DIR/calls-$name-$tool.json"
}

# ---- sanity check + AWS call counts (through the proxy) -----------------------
note "checking both tools work and counting their AWS calls"
for tool in upstream s3creds; do
    prep 1
    count_calls a-fresh "$tool" --duration 15m --silent bench-b1
    count_calls a-again "$tool" --duration 15m --silent bench-b1
    prep 10
    count_calls b-fresh "$tool" --silent "${BUCKETS10[@]}"
done

# ---- timing -----------------------------------------------------------------
q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
QS3CREDS=$(q "$S3CREDS")
QUPSTREAM=$(q "$UPSTREAM")
PREP10="$(q "$PYTHON") $(q "$WORK/prep.py") $URL 10"

note "scenario a: temporary credentials for one bucket"
prep 1
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$OUT_DIR/a.json" \
    -n "upstream (a: --duration 15m, 1 bucket)" \
    "$QUPSTREAM create --endpoint-url $URL --duration 15m --silent bench-b1" \
    -n "s3creds  (a: --duration 15m, 1 bucket)" \
    "$QS3CREDS create --endpoint-url $URL --duration 15m --silent bench-b1" \
    --output=null

note "scenario b: permanent credentials for ten buckets (fresh moto state per run)"
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$OUT_DIR/b.json" \
    --prepare "$PREP10" \
    -n "upstream (b: permanent, 10 buckets)" \
    "$QUPSTREAM create --endpoint-url $URL --silent ${BUCKETS10[*]}" \
    -n "s3creds  (b: permanent, 10 buckets)" \
    "$QS3CREDS create --endpoint-url $URL --silent ${BUCKETS10[*]}" \
    --output=null

# ---- summary -------------------------------------------------------------------
"$PYTHON" "$WORK/report.py" timing "$OUT_DIR" "$RUNS"
"$PYTHON" "$WORK/report.py" counts "$OUT_DIR"
echo
echo "hyperfine JSON: $OUT_DIR/a.json $OUT_DIR/b.json; per-call log: $OUT_DIR/calls.log"
