#!/usr/bin/env bash
# The end-to-end tests in a real browser (demo/tests/browser/): installs Debian's
# Chromium and chromedriver when missing, then runs them. Extra arguments go to
# the test binary, e.g. `scripts/browser-tests.sh two_tabs`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "==> installing chromium and chromium-driver (Debian packages)"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium chromium-driver
fi
/usr/bin/chromium --version 2>/dev/null || true
/usr/bin/chromedriver --version

exec cargo test -p tower-oidc-logout-demo --features browser-tests --test browser -- "$@"
