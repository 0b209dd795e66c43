#!/usr/bin/env bash
# Runs every engine scenario of BENCHMARKS.md RUNS times (default 5) and prints
# the median of each figure. Usage: bench/engine_bench.sh [BOURSE_BINARY]
set -euo pipefail
bin=${1:-build/release/bourse}
runs=${RUNS:-5}

# field NAME from a one-line JSON object
field() { grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2 | tr -d '"'; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

scenario() {
  local name=$1; shift
  local fields=$1; shift
  local out=()
  for _ in $(seq "$runs"); do out+=("$("$bin" bench engine --json "$@")"); done
  printf '%s\n  command: %s bench engine --json %s\n' "$name" "$bin" "$*"
  for f in $fields; do
    printf '  %-26s %s\n' "$f" "$(printf '%s\n' "${out[@]}" | field "$f" | median)"
  done
}

scenario "exchange-core mix, 1 symbol, 10k accounts" \
  "throughput_per_s p50_ns p99_ns p999_ns p9999_ns service_p50_ns service_p99_ns service_p999_ns service_p9999_ns floor_p50_ns floor_p99_ns floor_p999_ns floor_p9999_ns allocations_per_command trades levels_end resting_orders_end" \
  --commands 3000000 --rate 1000000
scenario "exchange-core mix, 100 symbols, 10k accounts" \
  "throughput_per_s p50_ns p99_ns p999_ns p9999_ns service_p50_ns service_p99_ns service_p999_ns service_p9999_ns floor_p50_ns floor_p99_ns floor_p999_ns floor_p9999_ns allocations_per_command levels_end" \
  --symbols 100 --levels 50 --commands 3000000 --rate 1000000
scenario "place-only, 5 levels around the touch" \
  "throughput_per_s allocations_per_command trades resting_orders_end" \
  --mix place-only --commands 3000000 --rate 0
scenario "journal, fsync group commit, as fast as it goes" \
  "throughput_per_s durable_p50_ns durable_p99_ns durable_p999_ns journal_batches" \
  --journal fsync --commands 3000000 --rate 0
scenario "journal, fsync group commit, 1,000,000 commands/s offered" \
  "throughput_per_s durable_p50_ns durable_p99_ns durable_p999_ns journal_batches" \
  --journal fsync --commands 3000000 --rate 1000000
scenario "journal, async (no fsync)" \
  "throughput_per_s durable_p50_ns durable_p99_ns durable_p999_ns journal_batches" \
  --journal async --commands 3000000 --rate 0
scenario "memory per resting order" \
  "bytes_per_resting_order memory_orders" \
  --commands 1000 --rate 0 --memory-orders 1000000
printf 'device floor: append 70,000 bytes + fdatasync (the journal batch size at 1M/s)\n  command: build/release/bench/fsync_probe /tmp 70000 2000\n  %s\n' \
  "$("$(dirname "$bin")/bench/fsync_probe" "${TMPDIR:-/tmp}" 70000 2000)"
# The same with both cores busy, as they are during the journaled runs
# (engine thread spinning + flusher): the kernel's I/O threads must wait.
spin() { timeout 15 sh -c 'while :; do :; done'; }
spin & s1=$!; spin & s2=$!
sleep 0.5
printf 'device floor with both cores busy\n  command: (two busy loops) + build/release/bench/fsync_probe /tmp 70000 2000\n  %s\n' \
  "$("$(dirname "$bin")/bench/fsync_probe" "${TMPDIR:-/tmp}" 70000 2000)"
kill "$s1" "$s2" 2>/dev/null || true
