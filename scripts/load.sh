#!/usr/bin/env bash
# Requests per second over loopback, as reported in BENCHMARKS.md.
#
# The server (tower-oidc-logout/examples/load_server.rs: one tokio thread serving the app
# without the layer, behind it, and behind a layer that does nothing, on three
# ports) runs on core 0 and wrk on core 1. Each route is compared with GET
# /hello on a server:
#   pass-through: /hello behind the layer vs /hello without it, and vs /hello
#                 behind the no-op layer (what axum's Router::layer costs by itself)
#   logout:       POST /logout vs /hello, same server
#   callback:     GET /logout/callback?state=... (valid) vs /hello, same server
# The five runs are interleaved, ROUNDS times, and each figure is the best of
# its rounds, so drift in a shared machine's speed hits every route alike.
# Settings: DURATION (seconds per run, default 5), CONNECTIONS (default 32),
# ROUNDS (default 7).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-7}
BARE_PORT=${BARE_PORT:-3190}
LAYERED_PORT=${LAYERED_PORT:-3191}
NOOP_PORT=${NOOP_PORT:-3192}

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release -p tower-oidc-logout --example load_server
server=target/release/examples/load_server

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT

# All three servers in one process on core 0: they differ only by the layer.
taskset -c 0 "$server" "127.0.0.1:$BARE_PORT" "127.0.0.1:$LAYERED_PORT" "127.0.0.1:$NOOP_PORT" &
pids+=($!)
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$LAYERED_PORT/hello" >/dev/null && break
  sleep 0.1
done

lua=$(mktemp)
cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Sec-Fetch-Site"] = "same-origin"
wrk.headers["Cookie"] = "session=abc123"
LUA

rps() { # requests/s of one wrk run
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@" | awk '/Requests\/sec/ {print int($2)}'
}
best() { (( $2 > ${!1:-0} )) && printf -v "$1" '%s' "$2"; return 0; }


# A real state and its cookie, replayed for the callback run (TTL is an hour).
head=$(curl -s -o /dev/null -D - -X POST -H 'Sec-Fetch-Site: same-origin' "http://127.0.0.1:$LAYERED_PORT/logout")
state=$(printf '%s' "$head" | tr -d '\r' | sed -n 's/^location: .*[?&]state=\([A-Za-z0-9_-]*\).*/\1/ip')
cookie=$(printf '%s' "$head" | tr -d '\r' | sed -n 's/^set-cookie: \(oidc-logout-[^;]*\);.*Max-Age=3600.*/\1/ip')
if [[ -z "$state" || -z "$cookie" ]]; then
  echo "could not start a logout against the layered server" >&2
  exit 1
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://127.0.0.1:$LAYERED_PORT/logout/callback?state=$state")
[[ "$code" == 200 ]] || { echo "the callback answered $code, not 200" >&2; exit 1; }

bare_hello=0 noop_hello=0 layered_hello=0 logout=0 callback=0
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  best bare_hello "$(rps "http://127.0.0.1:$BARE_PORT/hello")"
  best noop_hello "$(rps "http://127.0.0.1:$NOOP_PORT/hello")"
  best layered_hello "$(rps "http://127.0.0.1:$LAYERED_PORT/hello")"
  best logout "$(rps -s "$lua" "http://127.0.0.1:$LAYERED_PORT/logout")"
  best callback "$(rps -H "Cookie: $cookie" "http://127.0.0.1:$LAYERED_PORT/logout/callback?state=$state")"
done
rm -f "$lua"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }
echo
echo "| route | requests/s | compared with | ratio | target |"
echo "|---|---|---|---|---|"
echo "| GET /hello, no layer | $bare_hello | | | |"
echo "| GET /hello, behind a no-op layer | $noop_hello | /hello, no layer | $(ratio "$noop_hello" "$bare_hello") | |"
echo "| GET /hello, behind the layer (pass-through) | $layered_hello | /hello, no layer | $(ratio "$layered_hello" "$bare_hello") | >= 98% |"
echo "| GET /hello, behind the layer (pass-through) | $layered_hello | /hello, no-op layer | $(ratio "$layered_hello" "$noop_hello") | |"
echo "| POST /logout | $logout | /hello, same server | $(ratio "$logout" "$layered_hello") | >= 80% |"
echo "| GET /logout/callback (valid state) | $callback | /hello, same server | $(ratio "$callback" "$layered_hello") | >= 85% |"
