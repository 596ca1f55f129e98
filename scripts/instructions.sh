#!/usr/bin/env bash
# Instructions per request under callgrind, as reported in BENCHMARKS.md, for
# the pass-through, logout and (valid) callback paths.
#
# benches/instructions.rs (release profile) runs N requests, built beforehand,
# through the layered service, or, as `build-only-<path>`, only builds and
# drops them. Each is counted by callgrind at LOW and HIGH requests (defaults
# 1000 and 2000); per path:
#   per request = ((I(HIGH) - I(LOW)) - (B(HIGH) - B(LOW))) / (HIGH - LOW)
# where I counts the service runs and B the build-only runs. The table also
# shows the figure with the requests' building (I alone) and the building
# alone (B alone). Callgrind counts the same for the same binary whatever else
# runs on the machine, so the figures are repeatable on a busy machine.
# Settings: LOW, HIGH, PATHS (default "pass-through logout callback"),
# VALGRIND (default valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."

LOW=${LOW:-1000}
HIGH=${HIGH:-2000}
PATHS=${PATHS:-pass-through logout callback}
VALGRIND=${VALGRIND:-valgrind}

if ! command -v "$VALGRIND" >/dev/null; then
  echo "valgrind not found (Debian: apt-get install valgrind)" >&2
  exit 1
fi

# Build, and find the binary in cargo's JSON messages (its name has a hash).
bin=$(cargo bench -p tower-oidc-logout --bench instructions --no-run --message-format=json-render-diagnostics |
  sed -n 's/.*"executable":"\([^"]*\/instructions-[0-9a-f]*\)".*/\1/p' | tail -n 1)
if [[ -z "$bin" || ! -x "$bin" ]]; then
  echo "could not find the instructions bench binary" >&2
  exit 1
fi
echo "binary: $bin" >&2
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')" >&2

# Instructions the whole run of `$bin <path> <count>` executes (callgrind's Ir total).
count() {
  local out total
  out=$("$VALGRIND" --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 >/dev/null) || {
    echo "$out" >&2
    echo "failed: $bin $1 $2" >&2
    exit 1
  }
  total=$(sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' <<<"$out")
  if [[ -z "$total" ]]; then
    echo "$out" >&2
    echo "no 'Collected :' line in valgrind's output" >&2
    exit 1
  fi
  echo "$total"
}

n=$((HIGH - LOW))
printf '%-14s %14s %18s %14s\n' path per-request with-building build-alone
for path in $PATHS; do
  i_low=$(count "$path" "$LOW")
  i_high=$(count "$path" "$HIGH")
  b_low=$(count "build-only-$path" "$LOW")
  b_high=$(count "build-only-$path" "$HIGH")
  echo "$path: I($LOW)=$i_low I($HIGH)=$i_high B($LOW)=$b_low B($HIGH)=$b_high" >&2
  awk -v p="$path" -v n="$n" -v il="$i_low" -v ih="$i_high" -v bl="$b_low" -v bh="$b_high" 'BEGIN {
    printf "%-14s %14.1f %18.1f %14.1f\n", p, ((ih - il) - (bh - bl)) / n, (ih - il) / n, (bh - bl) / n
  }'
done
