#!/usr/bin/env bash
# Market-data fan-out figures for BENCHMARKS.md ("WebSocket fan-out"):
# the raw TCP floor and `bourse serve` measured in the same run, on the same
# 2 cores, with the load generator on the box. Loopback only; every run is
# bounded by DURATION.
#
#   RUNS=3 DURATION=10 bench/ws_fanout_bench.sh
#   SECTIONS=workers RUNS=3 DURATION=10 bench/ws_fanout_bench.sh   # only the market-data workers part
#   SECTIONS=fanout RATES=10 RUNS=5 bench/ws_fanout_bench.sh        # only the 10 updates/s floor comparison
#
# Per run: floor and server at 10,000 connections × 10 and × 100 updates/s
# on one symbol (trades + book), a reconnect storm (all 10,000 drop and
# resume with `since` at 10 updates/s), and idle memory with 18,000
# connections on one ticker (one server process: the 20,000 open-file limit).
# Then the same server with 6 market-data workers on their own port
# (SO_REUSEPORT): 100,000 idle connections on one ticker (memory of every
# server process), and 10,000 × 10 updates/s and a reconnect storm through
# the workers.
set -euo pipefail
cd "$(dirname "$0")/.."
BOURSE=${BOURSE:-build/release/bourse}
FLOOR=${FLOOR:-build/release/bench/tcp_fanout_floor}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-10000}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-18000}
WORKERS=${WORKERS:-6}
WORKER_CONNECTIONS=${WORKER_CONNECTIONS:-100000}
SECTIONS=${SECTIONS:-single workers}   # single = fanout storm idle (each may be named alone)
RATES=${RATES:-10 100}
WORK=$(mktemp -d /tmp/bourse-fanout-XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.3f}")' "$@"; }
field() { python3 -c 'import sys,json; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

cat > "$WORK/bench.toml" <<TOML
[server]
max_connections = 20000
[websocket]
max_connections = 19000
[limits]
ip_per_second = 0
user_per_second = 0
orders_per_second = 0
TOML

start_server() {  # [more serve flags]
  local port; port=$(free_port)
  rm -rf "$WORK/data"
  "$BOURSE" serve --config "$WORK/bench.toml" --listen "127.0.0.1:$port" --data-dir "$WORK/data" "$@" > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.1; done
  PORT=$port
  # With market-data workers: their port and pids (the loadgen sums every server process's RSS).
  MD_PORT=$(sed -n 's|.*market data: .* on ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/server.log")
  ALL_PIDS=$SERVER_PID$(sed -n 's/.*pids \([0-9,]*\)).*/,\1/p' "$WORK/server.log")
  export BOURSE_API_KEY BOURSE_API_SECRET BOURSE_TAKER_KEY BOURSE_TAKER_SECRET
  BOURSE_API_KEY=$(sed -n 's/.*demo alice.*BOURSE_API_KEY=\([^ ]*\).*/\1/p' "$WORK/server.log")
  BOURSE_API_SECRET=$(sed -n 's/.*demo alice.*BOURSE_API_SECRET=\([^ ]*\).*/\1/p' "$WORK/server.log")
  BOURSE_TAKER_KEY=$(sed -n 's/.*demo bob.*BOURSE_API_KEY=\([^ ]*\).*/\1/p' "$WORK/server.log")
  BOURSE_TAKER_SECRET=$(sed -n 's/.*demo bob.*BOURSE_API_SECRET=\([^ ]*\).*/\1/p' "$WORK/server.log")
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

fanout() {  # connections rate channels [more flags] → JSON
  local n=$1 rate=$2 channels=$3; shift 3
  "$BOURSE" loadgen ws --url "ws://127.0.0.1:$PORT/v1/ws" --connections "$n" --duration "$DURATION" \
      --channels "$channels" --drive-rate "$rate" --server-pid "$SERVER_PID" --json "$@"
}

section() { [[ " $SECTIONS " == *" $1 "* || ( " $SECTIONS " == *" single "* && "$1" != workers ) ]]; }
if section fanout; then
echo "== fan-out: $CONNECTIONS connections on trades + book of BTC-USD, $RUNS runs of ${DURATION}s, medians"
for rate in $RATES; do
  fl99=(); fl50=(); ws99=(); ws50=(); gaps=(); upd=(); msgs=(); frames=(); driven=()
  for _ in $(seq "$RUNS"); do
    start_server
    out=$(fanout "$CONNECTIONS" "$rate" trades.BTC-USD,book.BTC-USD)
    stop_server
    echo "  server: $out"
    ws50+=("$(echo "$out" | field p50_ms)"); ws99+=("$(echo "$out" | field p99_ms)")
    gaps+=("$(echo "$out" | field gaps)"); msgs+=("$(echo "$out" | field messages_received)")
    frames+=("$(echo "$out" | field frames)"); driven+=("$(echo "$out" | field driven_updates)")
    # The floor writes one payload per update of the size the server sent per message on average.
    bytes=$(echo "$out" | field bytes); n=$(echo "$out" | field messages_received)
    payload=$(python3 -c "print(max(24, round($bytes / max(1, $n))))")
    floor=$("$FLOOR" --connections "$CONNECTIONS" --rate "$rate" --duration "$DURATION" --payload-bytes "$payload" --json)
    echo "  floor:  $floor"
    fl50+=("$(echo "$floor" | field p50_ms)"); fl99+=("$(echo "$floor" | field p99_ms)")
  done
  echo "  $rate updates/s: server p50 $(median "${ws50[@]}") ms p99 $(median "${ws99[@]}") ms | floor p50 $(median "${fl50[@]}") ms p99 $(median "${fl99[@]}") ms | gaps ${gaps[*]} | engine updates ${driven[*]} | messages ${msgs[*]} in frames ${frames[*]}"
done

fi
if section storm; then
echo "== reconnect storm: $CONNECTIONS connections drop at 4 s and resume with since, 10 updates/s"
for _ in $(seq "$RUNS"); do
  start_server
  out=$(fanout "$CONNECTIONS" 10 trades.BTC-USD,book.BTC-USD --reconnect-at 4)
  stop_server
  echo "  $out"
done

fi
if section idle; then
echo "== idle memory: $IDLE_CONNECTIONS connections each subscribed to ticker.BTC-USD (one server process)"
for _ in $(seq "$RUNS"); do
  start_server
  out=$(fanout "$IDLE_CONNECTIONS" 0 ticker.BTC-USD)
  stop_server
  echo "  $out"
done
fi

if section workers; then
md_fanout() {  # connections rate channels [more flags] → JSON, through the workers' port
  local n=$1 rate=$2 channels=$3; shift 3
  "$BOURSE" loadgen ws --url "ws://127.0.0.1:$MD_PORT/v1/ws" --api-url "http://127.0.0.1:$PORT" --connections "$n" \
      --duration "$DURATION" --channels "$channels" --drive-rate "$rate" --server-pid "$ALL_PIDS" --json "$@"
}
echo "== market-data workers: $WORKER_CONNECTIONS idle connections on ticker.BTC-USD over $WORKERS workers"
for _ in $(seq "$RUNS"); do
  start_server --md-workers "$WORKERS" --md-listen 127.0.0.1:0
  out=$(md_fanout "$WORKER_CONNECTIONS" 0 ticker.BTC-USD)
  stop_server
  echo "  $out"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("  held %d; every server process: %.0f MB with them, %d B per connection in all, %d B per connection added" % (d["connections_held"], d["server_rss_connected_bytes"]/1e6, d["server_rss_connected_bytes"]/max(1,d["connections_held"]), d["server_bytes_per_connection"]))' "$out"
done
echo "== market-data workers: $CONNECTIONS connections on trades + book at 10 updates/s, then a reconnect storm at 4 s (4 client processes)"
for _ in $(seq "$RUNS"); do
  start_server
  out=$(fanout "$CONNECTIONS" 10 trades.BTC-USD,book.BTC-USD --processes 4)
  stop_server
  echo "  10/s, no workers (the same client): $out"
  start_server --md-workers "$WORKERS" --md-listen 127.0.0.1:0
  out=$(md_fanout "$CONNECTIONS" 10 trades.BTC-USD,book.BTC-USD --processes 4)
  echo "  10/s:  $out"
  out=$(md_fanout "$CONNECTIONS" 10 trades.BTC-USD,book.BTC-USD --processes 4 --reconnect-at 4)
  echo "  storm: $out"
  stop_server
done
fi
