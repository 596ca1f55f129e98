#!/usr/bin/env bash
# Sign-outs per second through the demo on one core, with its sessions in
# memory and in Redis, and the Redis commands one sign-out costs, counted by
# Redis itself (INFO commandstats before and after the timed sign-outs).
#
# The demo (release build) runs on core 0; redis-server (its own, on a
# loopback port, no persistence) and the load client (demo/examples/signout_load.rs)
# on core 1. Each round signs COUNT sessions in first (not timed), then signs
# them all out, CONCURRENCY at a time (timed), and notes how busy the demo's
# core was meanwhile. The load client shares core 1 with Redis (and, on a
# shared machine, with whatever else runs), so it can be the bottleneck: the
# sign-outs per CPU-second the demo used are printed beside the wall-clock
# rate, and are the steadier figure.
# Settings: COUNT (default 50000), CONCURRENCY (default 32), ROUNDS (default 7),
# DEMO_PORT (default 3290), REDIS_PORT (default 6391).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-50000}
CONCURRENCY=${CONCURRENCY:-32}
ROUNDS=${ROUNDS:-7}
DEMO_PORT=${DEMO_PORT:-3290}
REDIS_PORT=${REDIS_PORT:-6391}

if ! command -v redis-server >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
cargo build --release -p tower-oidc-logout-demo --bin demo --example signout_load
demo=target/release/demo
load=target/release/examples/signout_load

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
work=$(mktemp -d)

taskset -c 1 redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no >/dev/null &
pids+=($!)
cli() { redis-cli -p "$REDIS_PORT" "$@"; }
for _ in $(seq 50); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done

# Calls per command since the last reset, without the INFO call itself.
stats() { cli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1 \2/p' | { grep -v -e '^info ' -e '^config|resetstat ' || true; }; }

# CPU seconds a process has used (user + system), from /proc.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# Both demos on core 0 (an idle one costs nothing), rounds interleaved so that
# drift in a shared machine's speed hits both stores alike.
key=$(head -c 32 /dev/urandom | base64)
stores=(memory "redis://127.0.0.1:$REDIS_PORT/0")
ports=("$DEMO_PORT" "$((DEMO_PORT + 1))")
demo_pids=()
for i in 0 1; do
    RP_URL="http://127.0.0.1:${ports[$i]}" PROVIDER_END_SESSION_URL=http://127.0.0.1:9/endsession \
        STATE_KEY=$key SESSION_STORE=${stores[$i]} taskset -c 0 "$demo" >"$work/demo-$i.log" 2>&1 &
    demo_pids+=($!)
    pids+=($!)
    for _ in $(seq 50); do curl -fs "http://127.0.0.1:${ports[$i]}/help" >/dev/null 2>&1 && break; sleep 0.1; done
done

best=(0 0)
for round in $(seq "$ROUNDS"); do
    for i in 0 1; do
        base="http://127.0.0.1:${ports[$i]}"
        cli config resetstat >/dev/null
        taskset -c 1 "$load" sign-in "$base" "$COUNT" "$CONCURRENCY" >"$work/sessions"
        stats >"$work/sign-in-$i"
        cli config resetstat >/dev/null
        before=$(cpu "${demo_pids[$i]}")
        result=$(taskset -c 1 "$load" sign-out "$base" "$CONCURRENCY" <"$work/sessions")
        after=$(cpu "${demo_pids[$i]}")
        stats >"$work/sign-out-$i"
        seconds=$(printf '%s' "$result" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
        busy=$(awk -v a="$before" -v b="$after" -v s="$seconds" 'BEGIN {printf "%.0f", 100 * (b - a) / s}')
        per_cpu=$(awk -v a="$before" -v b="$after" -v n="$COUNT" 'BEGIN {printf "%.0f", n / (b - a)}')
        echo "$per_cpu" >>"$work/per-cpu-$i"
        rate=$(printf '%s' "$result" | sed -n 's/.*per_second=\([0-9]*\).*/\1/p')
        echo "round $round SESSION_STORE=${stores[$i]}: $result demo_cpu=${busy}% per_demo_cpu_second=$per_cpu"
        if (( rate > best[i] )); then best[i]=$rate; fi
    done
done

for i in 0 1; do
    median=$(sort -n "$work/per-cpu-$i" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    echo "SESSION_STORE=${stores[$i]}: best of $ROUNDS: ${best[$i]} sign-outs/s; median $median sign-outs per CPU-second of the demo (COUNT=$COUNT, CONCURRENCY=$CONCURRENCY)"
done
echo "Redis commands for $COUNT sign-ins (last round):"; sed 's/^/  /' "$work/sign-in-1"
echo "Redis commands for $COUNT sign-outs (last round):"; sed 's/^/  /' "$work/sign-out-1"
echo "Redis commands during the memory demo's sign-outs: $(wc -l <"$work/sign-out-0") kinds"
echo "Redis keys left: $(cli dbsize)"
rm -rf "$work"
