#!/usr/bin/env bash
# A short, bounded run of every fuzz target (cargo fuzz, libFuzzer).
#
#   scripts/fuzz.sh                 # 30 s per target, all targets
#   scripts/fuzz.sh 60 callback     # 60 s, one target
#   FUZZ_KEEP=1 scripts/fuzz.sh     # keep new, coverage-increasing inputs in fuzz/corpus/ (not committed)
#
# Targets (fuzz/fuzz_targets/): `callback` (any query and cookies at the
# post-logout callback, splicing real sealed states), `return_target` (the
# validator against the url crate's resolution), `logout` (any method,
# headers, cookies, query and form body at the logout route), `backchannel`
# (any method, content type and body at the Back-Channel Logout route, really
# signed logout tokens spliced and mutated, any query at the Front-Channel one;
# a 200 only for a token jsonwebtoken also verifies, replays refused).
# Invariants checked: no panic, never a 5xx, a `code:` on every refusal, no
# single allocation over 256 MiB, under 1 GiB resident, no input slower than 30 s (one input takes
# milliseconds; the margin is for a machine shared with builds).
#
# The named seeds committed in fuzz/seeds/<target> start the working corpus
# (fuzz/corpus/<target>, ignored by git); new inputs go to a temporary
# directory unless FUZZ_KEEP=1. The seeds hold Cookie headers that are not
# ASCII (UTF-8 and raw bytes, some beside a real state cookie) for `callback`
# and `logout`, and valid signed posts for `backchannel`; the fuzz package's
# tests (run first, a plain build) check that they still do. A crash
# stops the script with a non-zero status; the input is saved under
# fuzz/artifacts/<target>/ and replays with `cargo fuzz run <target> <file>`.
#
# Needs cargo-fuzz (installed here from crates.io if missing, ~35 s on 2
# cores) and the machine's stable toolchain: cargo fuzz passes `-Z` flags
# (sanitizer coverage, ASan), which stable rustc accepts with RUSTC_BOOTSTRAP=1.
# The first build compiles the dependencies with instrumentation (~3 min on
# 2 cores); later builds reuse fuzz/target.
set -euo pipefail
cd "$(dirname "$0")/../tower-oidc-logout"

seconds="${1:-${FUZZ_SECONDS:-30}}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(callback return_target logout backchannel)
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked --version 0.13.2
fi
export RUSTC_BOOTSTRAP=1

echo "==> the seeds still hold what they are named for (fuzz/tests/)"
(cd fuzz && cargo test --quiet)

echo "==> building fuzz targets"
cargo fuzz build

status=0
for target in "${targets[@]}"; do
    # The working corpus (not committed) starts from the named seeds.
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
    fresh="$(mktemp -d)"
    echo "==> fuzzing $target for ${seconds}s (seed corpus: $(find "$corpus" -type f | wc -l) inputs)"
    failed=0
    if ! cargo fuzz run "$target" "$fresh" "$corpus" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=30 \
        -rss_limit_mb=1024 -malloc_limit_mb=256 -print_final_stats=1 2>"$fresh.log"; then
        tail -n 60 "$fresh.log"
        echo "!! $target failed: the input is under fuzz/artifacts/$target/" >&2
        status=1
        failed=1
    else
        grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$fresh.log" || true
        echo "   new inputs this run: $(find "$fresh" -type f | wc -l)"
    fi
    if [ "${FUZZ_KEEP:-0}" = 1 ] && [ "$failed" = 0 ]; then
        cargo fuzz run "$target" "$corpus" "$fresh" -- -merge=1 -max_len=4096 2>/dev/null
        echo "   corpus kept: $(find "$corpus" -type f | wc -l) inputs"
    fi
    rm -rf "$fresh" "$fresh.log"
done
exit "$status"
