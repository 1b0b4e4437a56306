# Sourced by the scripts that need a moto server (demo and benchmarks).
#
# start_moto LOG [MOTO_SERVER]: start moto on a loopback port it binds itself (`-p 0`) and read the
# port back from its "Running on" line. Sets MOTO_PID, MOTO_PORT and MOTO_URL; returns 1 if moto
# has not started within 60 s. A port picked first and handed over could be taken by another
# process in between, and the script would then talk to that process instead.
start_moto() {
    local log=$1 server=${2:-}
    [[ -n "$server" ]] || server="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin/moto_server"
    MOTO_IAM_LOAD_MANAGED_POLICIES=true "$server" -H 127.0.0.1 -p 0 >"$log" 2>&1 &
    MOTO_PID=$!
    MOTO_PORT=""
    local deadline=$((SECONDS + 60))
    until [[ -n "$MOTO_PORT" ]]; do
        MOTO_PORT=$(sed -n 's#.*Running on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' "$log" | head -n 1)
        [[ -n "$MOTO_PORT" ]] && break
        if ! kill -0 "$MOTO_PID" 2>/dev/null || ((SECONDS >= deadline)); then return 1; fi
        sleep 0.05
    done
    # moto prints that line once its socket listens: connections are queued from then on.
    MOTO_URL="http://127.0.0.1:$MOTO_PORT"
}
