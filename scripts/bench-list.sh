#!/usr/bin/env bash
# Benchmark `s3creds list` against upstream `s3-credentials list-users` +
# `s3-credentials list-user-policies` (0.17), side by side, against one local
# moto server holding USERS managed users.
#
# Usage:
#   scripts/bench-list.sh
#   S3CREDS=target/release/s3creds USERS=200 RUNS=5 scripts/bench-list.sh
#
# Environment (relative paths are resolved against the current directory;
# the defaults are relative to the repository root):
#   S3CREDS      s3creds binary                   (default: target/release/s3creds)
#   UPSTREAM     upstream s3-credentials          (default: .venv/bin/s3-credentials)
#   MOTO_SERVER  moto_server executable           (default: .venv/bin/moto_server)
#   PYTHON       python with boto3 (for set-up)   (default: python next to MOTO_SERVER)
#   USERS        managed users to create          (default: 200)
#   RUNS         timed runs per command           (default: 5)
#   CONCURRENCY  s3creds list --concurrency       (default: s3creds' default, 8)
#   OUT_DIR      where hyperfine JSON and logs go (default: a new /tmp/bench-list.* dir)
#
# State: USERS users made with boto3 exactly as `s3creds create BUCKET
# --read-only` makes them: the s3creds tags, one inline policy (the document
# `s3creds policy BUCKET --read-only` prints, one bucket per user) and one
# access key. Set-up time is not measured.
#
# Timed (hyperfine, one warm-up run):
#   s3creds:   s3creds list --json --endpoint-url URL
#              (users, buckets, access, prefixes, keys with status and last use, the role)
#   upstream:  s3-credentials list-users --endpoint-url URL &&
#              s3-credentials list-user-policies --endpoint-url URL
#              (users, then the raw policy documents)
# Both print to /dev/null. The AWS calls each makes are counted once, through
# scripts/counting_proxy.py, before the timing.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi

die() { echo "bench-list: error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

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
USERS=${USERS:-200}
RUNS=${RUNS:-5}
[[ "$USERS" =~ ^[1-9][0-9]*$ ]] || die "USERS must be a positive integer (got '$USERS')"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
CONCURRENCY_ARGS=()
if [[ -n "${CONCURRENCY:-}" ]]; then
    CONCURRENCY_ARGS=(--concurrency "$CONCURRENCY")
fi

S3CREDS=$(resolve "$S3CREDS_IN") || die "s3creds binary not found: $S3CREDS_IN (build it with 'cargo build --release' or set S3CREDS=...)"
UPSTREAM=$(resolve "$UPSTREAM_IN") || die "upstream s3-credentials not found: $UPSTREAM_IN (set UPSTREAM=...)"
MOTO_SERVER=$(resolve "$MOTO_IN") || die "moto_server not found: $MOTO_IN (set MOTO_SERVER=...)"
PYTHON=$(resolve "${PYTHON:-$(dirname "$MOTO_SERVER")/python}") || die "python not found (set PYTHON=... to a python with boto3)"
"$PYTHON" -c 'import boto3' 2>/dev/null || die "$PYTHON cannot import boto3"
PROXY="$SCRIPT_DIR/counting_proxy.py"
command -v hyperfine >/dev/null 2>&1 || die "hyperfine not found (apt-get install hyperfine)"

OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bench-list.XXXXXX")}
mkdir -p "$OUT_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-list-work.XXXXXX")

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

wait_http() {  # wait_http URL SECONDS PID
    local url=$1 deadline=$((SECONDS + $2)) pid=$3
    until "$PYTHON" -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).read()' "$url" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# ---- moto server and counting proxy -----------------------------------------
source "$REPO_ROOT/scripts/moto-lib.sh"
start_moto "$OUT_DIR/moto.log" "$MOTO_SERVER" && wait_http "$MOTO_URL/moto-api/" 60 "$MOTO_PID" \
    || die "moto server did not start (see $OUT_DIR/moto.log)"
URL=$MOTO_URL

"$PYTHON" "$PROXY" --listen-port 0 --upstream "$URL" > "$WORK/proxy.out" 2> "$OUT_DIR/proxy.err" &
PROXY_PID=$!
for _ in $(seq 100); do
    grep -q '^READY ' "$WORK/proxy.out" 2>/dev/null && break
    kill -0 "$PROXY_PID" 2>/dev/null || die "counting proxy died (see $OUT_DIR/proxy.err)"
    sleep 0.1
done
PROXY_URL="http://127.0.0.1:$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$WORK/proxy.out")"

# ---- state: USERS managed users, as `create --read-only` makes them ---------
note "creating $USERS managed users"
"$S3CREDS" policy bench-placeholder-bucket --read-only > "$WORK/policy.json"
VERSION=$("$S3CREDS" --version | awk '{print $2}')
"$PYTHON" - "$URL" "$USERS" "$WORK/policy.json" "$VERSION" <<'EOF'
import sys, boto3
url, users, policy_path, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
template = open(policy_path).read()
session = boto3.session.Session()
iam = session.client("iam", endpoint_url=url)
s3 = session.client("s3", endpoint_url=url)
for i in range(1, users + 1):
    bucket = "bench-list-b%d" % i
    name = "s3.read-only." + bucket
    s3.create_bucket(Bucket=bucket)
    iam.create_user(UserName=name, Tags=[
        {"Key": "s3creds:managed", "Value": "true"},
        {"Key": "s3creds:version", "Value": version},
        {"Key": "s3creds:access", "Value": "read-only"},
    ])
    iam.put_user_policy(UserName=name, PolicyName=name,
                        PolicyDocument=template.replace("bench-placeholder-bucket", bucket))
    iam.create_access_key(UserName=name)
EOF

echo "s3creds:   $S3CREDS ($VERSION)"
echo "upstream:  $UPSTREAM ($("$UPSTREAM" --version 2>/dev/null || echo '?'))"
echo "moto:      $URL, counting proxy $PROXY_URL"
echo "hyperfine: $(hyperfine --version), runs=$RUNS, users=$USERS"
echo "results:   $OUT_DIR"

proxy_get() {
    "$PYTHON" -c 'import sys,urllib.request; print(urllib.request.urlopen(urllib.request.Request(sys.argv[1], method=sys.argv[2])).read().decode())' \
        "$PROXY_URL$2" "$1"
}

# ---- sanity check + AWS call counts -------------------------------------------
note "counting the AWS calls of each tool (one run each, through the proxy)"
proxy_get POST /__proxy/reset >/dev/null
"$S3CREDS" list --json "${CONCURRENCY_ARGS[@]}" --endpoint-url "$PROXY_URL" > "$OUT_DIR/s3creds.json"
proxy_get GET /__proxy/count > "$OUT_DIR/calls-s3creds.json"
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); n=int(sys.argv[2]); assert len(d["users"]) == n and all(u["access"] == "read-only" and u["keys"] for u in d["users"]), "s3creds list is incomplete"' \
    "$OUT_DIR/s3creds.json" "$USERS" || die "s3creds list did not show $USERS complete users"
proxy_get POST /__proxy/reset >/dev/null
"$UPSTREAM" list-users --endpoint-url "$PROXY_URL" > "$OUT_DIR/upstream-users.json"
"$UPSTREAM" list-user-policies --endpoint-url "$PROXY_URL" > "$OUT_DIR/upstream-policies.txt"
proxy_get GET /__proxy/count > "$OUT_DIR/calls-upstream.json"
[[ $(grep -c '^User: ' "$OUT_DIR/upstream-policies.txt") == "$USERS" ]] || die "upstream did not list $USERS users"

# ---- timing -----------------------------------------------------------------------
q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
note "timing"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT_DIR/list.json" --output=null \
    -n "upstream list-users + list-user-policies" \
    "$(q "$UPSTREAM") list-users --endpoint-url $URL && $(q "$UPSTREAM") list-user-policies --endpoint-url $URL" \
    -n "s3creds list --json" \
    "$(q "$S3CREDS") list --json ${CONCURRENCY_ARGS[*]} --endpoint-url $URL"

"$PYTHON" - "$OUT_DIR" "$USERS" <<'EOF'
import json, sys
out, users = sys.argv[1], sys.argv[2]
results = {r["command"]: r for r in json.load(open(out + "/list.json"))["results"]}
up = results["upstream list-users + list-user-policies"]
me = results["s3creds list --json"]
print()
print("Timing over %s managed users (median [min .. max])" % users)
for label, r in (("upstream", up), ("s3creds", me)):
    print("  %-9s %8.0f ms [%.0f .. %.0f]" % (label, r["median"] * 1000, r["min"] * 1000, r["max"] * 1000))
print("  s3creds/upstream: %.3f" % (me["median"] / up["median"]))
calls = {t: json.load(open("%s/calls-%s.json" % (out, t))) for t in ("upstream", "s3creds")}
actions = sorted(set(calls["upstream"]["by_action"]) | set(calls["s3creds"]["by_action"]))
print()
print("AWS calls per run")
print("  %-32s %9s %9s" % ("action", "upstream", "s3creds"))
for a in actions:
    print("  %-32s %9s %9s" % (a, calls["upstream"]["by_action"].get(a, "-"), calls["s3creds"]["by_action"].get(a, "-")))
print("  %-32s %9d %9d" % ("TOTAL", calls["upstream"]["total"], calls["s3creds"]["total"]))
EOF
