#!/usr/bin/env bash
# Load test of the T1621 guide page (issue 9): builds the release binary and a catalog of the
# shared corpus, starts `ruleatlas serve` on loopback, runs wrk (installed with apt when
# missing), prints requests/s, p99 latency and errors, and stops the server.
#
#   bash bench/web_load.sh            # RULEATLAS_SHARED defaults to ../shared
#   PAGE=/api/techniques/T1621 DURATION=30s bash bench/web_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${RULEATLAS_SHARED:-../shared}"
PAGE="${PAGE:-/techniques/T1621}"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
TARGET="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET/release/ruleatlas"

[ -d "$SHARED/corpus" ] || { echo "web_load: no corpus at $SHARED/corpus (set RULEATLAS_SHARED)"; exit 1; }

echo "web_load: cargo build --release -p ruleatlas"
cargo build --release -p ruleatlas

if ! command -v wrk >/dev/null; then
    echo "web_load: installing wrk"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

attack=()
[ -d "$SHARED/attack" ] && attack=(--attack "$SHARED/attack")
echo "web_load: building the catalog of $SHARED/corpus"
"$BIN" build --corpus "$SHARED/corpus" "${attack[@]}" -o "$work/bench.db" >"$work/build.log" 2>&1 \
    || { tail -20 "$work/build.log"; echo "web_load: build failed"; exit 1; }

# Port 0: the system picks a free loopback port; the server prints its URL when listening.
"$BIN" serve --catalog "$work/bench.db" --addr 127.0.0.1:0 >"$work/serve.log" 2>&1 &
server=$!
url=""
for _ in $(seq 1 300); do
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/serve.log" | head -1 || true)"
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log"; echo "web_load: server exited"; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { cat "$work/serve.log"; echo "web_load: server did not start"; exit 1; }
echo "web_load: serving at $url"

# One request first: the first answer renders the page, the rest come from the page cache.
status="$(curl -s -o /dev/null -w '%{http_code}' "$url$PAGE" 2>/dev/null || echo "?")"
echo "web_load: GET $PAGE -> $status"

echo "web_load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $url$PAGE"
timeout 300 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url$PAGE" | tee "$work/wrk.txt"

rps="$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")"
p99="$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")"
non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$work/wrk.txt")"
sockerr="$(grep -o 'Socket errors:.*' "$work/wrk.txt" || true)"
echo
echo "web_load: page        $PAGE"
echo "web_load: requests/s  ${rps:-?}"
echo "web_load: p99         ${p99:-?}"
echo "web_load: non-2xx     ${non2xx:-0}"
echo "web_load: ${sockerr:-Socket errors: none}"
if [ -n "${non2xx:-}" ] || [ -n "$sockerr" ]; then
    echo "web_load: errors during the run"
    exit 1
fi
