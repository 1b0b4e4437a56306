#!/usr/bin/env bash
# Benchmark the credential_process path side by side, in one run, against one local moto server:
#   - `s3creds serve BUCKET` on a cache hit, the number that matters: SDKs run the helper at every
#     client start, the AWS CLI at every command. Once on the kernel keyring (keyutils), once on Secret
#     Service (gnome-keyring, unlocked, in a private D-Bus session started here), and once as the
#     desktop default: `auto` without a session keyring of its own, that Secret Service present;
#   - the same hits for a second binary when BASELINE=/path/to/old/s3creds is set (before/after),
#     and PAIRS (default 6) alternating rounds of the two kernel-keyring hits;
#   - `/bin/true`, the floor for starting any helper process;
#   - upstream's documented path: `s3-credentials localserver` running, `curl -s http://.../` as helper;
#   - the miss path (`serve --no-cache`: one AssumeRole with the remembered role);
#   - 32 helpers started at once on a cold cache (and how many AssumeRole calls they made).
#
# Usage: scripts/bench-serve.sh        (RUNS=300 by default; S3CREDS=target/release/s3creds;
#                                      BASELINE=/path/to/another/s3creds adds its hit rows)
# Needs: scripts/setup-test-env.sh done, keyutils, dbus, gnome-keyring, hyperfine (installed with
# apt-get when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

BENCH=bench-serve
S3CREDS=${S3CREDS:-$ROOT/target/release/s3creds}
RUNS=${RUNS:-300}
BASELINE=${BASELINE:-}
source "$ROOT/scripts/bench-lib.sh"

PROXY_PORT_FILE="$WORK/proxy.port"
"$PY" "$ROOT/scripts/counting_proxy.py" --listen-port 0 --upstream "http://127.0.0.1:$MOTO_PORT" >"$PROXY_PORT_FILE" &
PIDS+=($!)
for _ in $(seq 100); do grep -q READY "$PROXY_PORT_FILE" 2>/dev/null && break; sleep 0.05; done
PROXY="http://127.0.0.1:$(awk '/READY/{print $2}' "$PROXY_PORT_FILE")"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export S3CREDS_CACHE_DIR="$WORK/cache" S3CREDS_KEYRING=keyutils
unset AWS_PROFILE DBUS_SESSION_BUS_ADDRESS
"$PY" -c 'import boto3, os; boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(Bucket="bench-serve")'

# s3-credentials localserver reports the port it was given, not the one bound: it needs one picked first.
UP_PORT=$(free_port)
"$ROOT/.venv/bin/s3-credentials" localserver bench-serve --duration 1h --host 127.0.0.1 --port "$UP_PORT" \
    --endpoint-url "$AWS_ENDPOINT_URL" >"$WORK/localserver.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$UP_PORT/"

"$S3CREDS" serve bench-serve >/dev/null   # fill the cache and remember the role
"$S3CREDS" serve bench-serve >/dev/null
# Both binaries name entries alike, so each reads the same cached entry; the baseline runs only hits.
BASELINE_ROWS=()
[[ -n "$BASELINE" ]] && BASELINE_ROWS=(-n "baseline: serve (cache hit)" "$BASELINE serve bench-serve")

hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/hot.json" \
    -n "/bin/true (floor)" "/bin/true" \
    -n "s3creds serve (cache hit)" "$S3CREDS serve bench-serve" \
    "${BASELINE_ROWS[@]}" \
    -n "upstream: curl localserver" "curl -s http://127.0.0.1:$UP_PORT/" >"$WORK/hot.txt"
# With a baseline, PAIRS alternating rounds of the two kernel-keyring hits (baseline first, then the
# new one first, ...): on a VM whose speed drifts between hyperfine blocks, the per-round ratios say
# more than one block each.
PAIRS=${PAIRS:-6}
if [[ -n "$BASELINE" ]]; then
    for round in $(seq "$PAIRS"); do
        if (( round % 2 )); then first=$BASELINE; second=$S3CREDS; else first=$S3CREDS; second=$BASELINE; fi
        hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/pair-$round.json" \
            "$first serve bench-serve" "$second serve bench-serve" >/dev/null
    done
fi
# Earlier versions link the per-user persistent keyring into the session; unlink it again so that
# the `cache clear` below only sees this benchmark's entries.
keyctl unlink "$(keyctl get_persistent @s)" @s >/dev/null 2>&1 || true

# Secret Service: gnome-keyring with an unlocked default collection on a private bus, as the tests do.
mkdir -p "$WORK/home"
dbus-daemon --session --fork --address="unix:path=$WORK/bus" --print-pid >"$WORK/bus.pid"
PIDS+=("$(cat "$WORK/bus.pid")")
printf pw | DBUS_SESSION_BUS_ADDRESS="unix:path=$WORK/bus" HOME="$WORK/home" XDG_RUNTIME_DIR="$WORK/home" \
    gnome-keyring-daemon --unlock --components=secrets >/dev/null
(
    export DBUS_SESSION_BUS_ADDRESS="unix:path=$WORK/bus" S3CREDS_KEYRING=secret-service
    # gnome-keyring sets up its default collection shortly after --unlock returns: wait for it.
    for _ in $(seq 50); do
        "$S3CREDS" serve bench-serve >/dev/null 2>&1
        out=$("$S3CREDS" cache list)
        [[ "$out" == *"[Secret Service]"* ]] && break
        sleep 0.1
    done
    [[ "$out" == *"[Secret Service]"* ]] || { echo "bench-serve: Secret Service not used: $out" >&2; exit 1; }
    SS_BASELINE_ROWS=()
    [[ -n "$BASELINE" ]] && SS_BASELINE_ROWS=(-n "baseline: serve (Secret Service hit)" "$BASELINE serve bench-serve")
    hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/ss.json" \
        -n "/bin/true (floor, Secret Service run)" "/bin/true" \
        -n "s3creds serve (Secret Service hit)" "$S3CREDS serve bench-serve" \
        "${SS_BASELINE_ROWS[@]}" >"$WORK/ss.txt"
    # The desktop default: `auto` in a process without a session keyring of its own (it has the
    # user-session keyring, as a login without pam_keyinit does), with this Secret Service present.
    # s3creds uses the user keyring there; builds before it used Secret Service.
    export S3CREDS_KEYRING=auto
    DESKTOP=(keyctl session "_uid_ses.$(id -u)")
    "${DESKTOP[@]}" "$S3CREDS" serve bench-serve >/dev/null 2>&1
    out=$("${DESKTOP[@]}" "$S3CREDS" cache list 2>/dev/null)
    [[ "$out" == *"user keyring"* ]] || { echo "bench-serve: the user keyring not used: $out" >&2; exit 1; }
    DESKTOP_BASELINE_ROWS=()
    if [[ -n "$BASELINE" ]]; then
        "${DESKTOP[@]}" "$BASELINE" serve bench-serve >/dev/null 2>&1
        DESKTOP_BASELINE_ROWS=(-n "baseline: serve (desktop default hit)" "$BASELINE serve bench-serve")
    fi
    "${DESKTOP[@]}" hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/desktop.json" \
        -n "/bin/true (floor, desktop run)" "/bin/true" \
        -n "s3creds serve (desktop default hit)" "$S3CREDS serve bench-serve" \
        "${DESKTOP_BASELINE_ROWS[@]}" >"$WORK/desktop.txt" 2>&1
    "${DESKTOP[@]}" "$S3CREDS" cache clear >/dev/null 2>&1   # the user keyring outlives this script
)
hyperfine -N --warmup 3 --runs 30 --export-json "$WORK/miss.json" \
    -n "s3creds serve --no-cache (miss: one AssumeRole)" "$S3CREDS serve bench-serve --no-cache" >"$WORK/miss.txt"
hyperfine --warmup 1 --runs 10 --export-json "$WORK/burst.json" \
    --prepare "$S3CREDS cache clear >/dev/null" \
    -n "32 x s3creds serve at once, cold cache" \
    "for i in \$(seq 32); do $S3CREDS serve bench-serve >/dev/null & done; wait" >"$WORK/burst.txt"

# One counted cold burst: how many AssumeRole calls do 32 helpers make?
"$S3CREDS" cache clear >/dev/null
curl -s -X POST "$PROXY/__proxy/reset" >/dev/null
BURST=()
for i in $(seq 32); do AWS_ENDPOINT_URL="$PROXY" "$S3CREDS" serve bench-serve >/dev/null & BURST+=($!); done
wait "${BURST[@]}"   # not a bare `wait`: moto, the proxy and localserver are background jobs too
ASSUMES=$(curl -s "$PROXY/__proxy/count" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["by_action"].get("AssumeRole", 0))')

"$PY" - "$WORK" "$ASSUMES" "$BASELINE" <<'PY'
import json, statistics, sys
work, assumes, baseline = sys.argv[1], sys.argv[2], sys.argv[3]
def load(name):
    return {r["command"]: r for r in json.load(open(f"{work}/{name}.json"))["results"]}
hot, ss, miss, burst = load("hot"), load("ss"), load("miss"), load("burst")
desktop = load("desktop")
ms = lambda r: statistics.median(r["times"]) * 1000
floor = ms(hot["/bin/true (floor)"])
ss_floor = ms(ss["/bin/true (floor, Secret Service run)"])
desktop_floor = ms(desktop["/bin/true (floor, desktop run)"])
curl = ms(hot["upstream: curl localserver"])
print("credential_process helper, median wall time")
print(f"  /bin/true (floor)                 {floor:8.2f} ms")
for label, table, name, base in [
    ("s3creds serve, keyutils hit", hot, "s3creds serve (cache hit)", floor),
    ("baseline, keyutils hit", hot, "baseline: serve (cache hit)", floor),
    ("s3creds serve, Secret Service hit", ss, "s3creds serve (Secret Service hit)", ss_floor),
    ("baseline, Secret Service hit", ss, "baseline: serve (Secret Service hit)", ss_floor),
    ("s3creds serve, desktop default hit", desktop, "s3creds serve (desktop default hit)", desktop_floor),
    ("baseline, desktop default hit", desktop, "baseline: serve (desktop default hit)", desktop_floor),
]:
    if name in table:
        t = ms(table[name])
        print(f"  {label:34s}{t:8.2f} ms   = {t/base:.2f} x floor, {t/curl:.2f} x upstream")
print(f"  upstream: curl to localserver     {curl:8.2f} ms   (plus a resident Python server)")
import glob
pairs = []
for path in sorted(glob.glob(f"{work}/pair-*.json")):
    by = {r["command"].split()[0]: statistics.median(r["times"]) * 1000 for r in json.load(open(path))["results"]}
    new, = [t for c, t in by.items() if c != baseline]
    pairs.append((new, by[baseline]))
if pairs:
    print(f"  keyutils hit, {len(pairs)} alternating rounds (new / baseline, ms):")
    print("    " + ", ".join(f"{n:.2f}/{b:.2f}" for n, b in pairs)
          + f"; median ratio {statistics.median(n / b for n, b in pairs):.2f}")
for name, r in miss.items():
    print(f"  {name:34s}{ms(r):8.2f} ms")
for name, r in burst.items():
    print(f"  {name:34s}{ms(r):8.2f} ms   ({assumes} AssumeRole call(s) for 32 helpers)")
PY
