#!/usr/bin/env bash
# External tick ingest through the whole server (BENCHMARKS.md "External
# ticks"): a file of TICKS CSV lines over INSTRUMENTS external instruments is
# replayed as fast as the engine takes it (`--ingest-file`, speed 0); every
# tick is parsed, journaled (fsync durability, group commit), applied by the
# engine and fed to MarketView (candles, indicators, tickers), the WebSocket
# publisher and the history projector. Measures from the server's start to
# the last tick applied, from its metrics. Loopback only; bounded by TICKS.
#
#   RUNS=3 TICKS=1000000 bench/ingest_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BOURSE=${BOURSE:-build/release/bourse}
RUNS=${RUNS:-3}
TICKS=${TICKS:-1000000}
INSTRUMENTS=${INSTRUMENTS:-10}
DURABILITY=${DURABILITY:-fsync}
WORK=$(mktemp -d /tmp/bourse-ingest-XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | sed -n "s/^$1 //p"; }

start_server() {  # [more serve flags]
  PORT=$(free_port)
  "$BOURSE" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --durability "$DURABILITY" "$@" > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.1; done
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

# The external instruments, once, through the admin API (signed requests).
python3 - "$INSTRUMENTS" "$TICKS" "$WORK/ticks.csv" <<'PY'
import sys, random
n, ticks, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
random.seed(42)
price = [19000] * n
t = (int(__import__("time").time()) - 86_400) * 1_000_000_000  # a day ago: ticks ahead of the clock are refused
with open(path, "w") as f:
    for i in range(ticks):
        k = (i // 4) % n
        t += random.randint(1, 10) * 100_000
        price[k] = max(1, price[k] + random.randint(-5, 5))
        f.write(f"EXT{k}-USD,{t},{price[k] // 100}.{price[k] % 100:02d},{random.randint(1, 100)},{'buy' if i % 2 else 'sell'}\n")
PY
for run in $(seq "$RUNS"); do
  rm -rf "$WORK/data"
  start_server
  python3 - "$PORT" "$INSTRUMENTS" "$WORK/server.log" <<'PY'
import sys, re, time, hmac, hashlib, urllib.request
port, n, log = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
key = re.search(r"demo admin .*BOURSE_API_KEY=(\S+) BOURSE_API_SECRET=(\S+)", log)
def call(method, target, body):
    time.sleep(0.002)
    ts = str(int(time.time() * 1000))
    sig = hmac.new(key.group(2).encode(), f"{ts}\n{method}\n{target}\n{body}".encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{target}", data=body.encode(), method=method, headers={
        "BOURSE-API-KEY": key.group(1), "BOURSE-TIMESTAMP": ts, "BOURSE-SIGNATURE": sig, "Content-Type": "application/json"})
    try:
        assert urllib.request.urlopen(req).status == 201
    except urllib.error.HTTPError as e:
        sys.exit(f"{target}: {e.code} {e.read().decode()}")
call("POST", "/v1/admin/assets", '{"code":"EXT","decimals":4}')  # one base asset: the asset table is small
for k in range(n):
    call("POST", "/v1/admin/instruments", f'{{"symbol":"EXT{k}-USD","base":"EXT","quote":"USD","price_decimals":2,'
         f'"tick_size":"0.01","lot_size":"1","reference_price":"190.00","external":true}}')
PY
  stop_server
  start_server --ingest-file "$WORK/ticks.csv"
  [ -n "${PERF:-}" ] && { perf record -e cpu-clock -g -p "$SERVER_PID" -o "$PERF" -- sleep 2 > /dev/null 2>&1 & }
  begin=$(date +%s.%N)
  while true; do
    applied=$(metric bourse_ingest_ticks_applied); refused=$(metric bourse_ingest_ticks_refused)
    rejected=$(metric bourse_ingest_ticks_rejected)
    [ $((applied + refused + rejected)) -ge "$TICKS" ] && break
    sleep 0.05
  done
  end=$(date +%s.%N)
  stop_server
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'  run $run: {$TICKS} ticks, applied $applied, refused $refused, rejected $rejected in {s:.2f} s = {$TICKS/s:,.0f} ticks/s ($DURABILITY)')" "$begin" "$end"
done
