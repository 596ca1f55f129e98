#!/usr/bin/env bash
# On real Redis servers (demo/tests/redis/: two app instances, RedisIndex, the fault soak, a
# 3-primary Cluster, a primary + replica + Sentinel failover): installs Debian's
# redis-server and redis-tools when missing, then runs them. The tests start their own
# redis-server on free loopback ports (no persistence) and stop it; set
# REDIS_URL to use another Redis instead (the test that stops Redis still
# starts its own, and so do the Cluster and Sentinel tests). Extra arguments go to the test binary.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-server (also `--sentinel`), and redis-cli from redis-tools for `--cluster create`.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "==> installing redis-server (Debian package)"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y redis-server redis-tools
fi
redis-server --version

exec cargo test -p tower-oidc-logout-demo --features redis-tests --test redis -- "$@"
