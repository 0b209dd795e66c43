#!/usr/bin/env bash
# The gateway figures of BENCHMARKS.md: REST and WebSocket order round trips
# (bourse loadgen) and GET /v1/ticker/{symbol} under wrk beside nginx serving
# a static 200 on the same machine in the same run. Loopback only; every run
# is bounded in time. RUNS=N repeats each measurement and prints medians.
#
#   bench/gateway_bench.sh            # needs: make build; scripts/bootstrap --bench (wrk, nginx)
#   RUNS=3 DURATION=10 bench/gateway_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BOURSE=${BOURSE:-build/release/bourse}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
scripts/bootstrap --bench
WORK=$(mktemp -d /tmp/bourse-gwbench-XXXXXX)
SERVER_PID=""
NGINX_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):.0f}")' "$@"; }
field() { python3 -c 'import sys,json; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

# Limits off: the benchmark measures the server, not the rate limiter.
cat > "$WORK/bench.toml" <<TOML
[limits]
ip_per_second = 0
user_per_second = 0
orders_per_second = 0
TOML

start_server() {  # $1 = durability, $2 = more flags
  local port; port=$(free_port)
  rm -rf "$WORK/data"
  # shellcheck disable=SC2086
  "$BOURSE" serve --config "$WORK/bench.toml" --listen "127.0.0.1:$port" --data-dir "$WORK/data" \
      --durability "$1" ${2:-} > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.1; done
  PORT=$port
  KEY=$(sed -n 's/.*demo alice.*BOURSE_API_KEY=\([^ ]*\).*/\1/p' "$WORK/server.log")
  SECRET=$(sed -n 's/.*demo alice.*BOURSE_API_SECRET=\([^ ]*\).*/\1/p' "$WORK/server.log")
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

loadgen() {  # mode rate connections → JSON
  BOURSE_API_KEY=$KEY BOURSE_API_SECRET=$SECRET "$BOURSE" loadgen "$1" --url "http://127.0.0.1:$PORT" \
      --rate "$2" --connections "$3" --duration "$DURATION" --json
}

echo "== order round trips (place + cancel, signed), $RUNS runs of ${DURATION}s, medians"
for durability in fsync async; do
  start_server "$durability"
  for spec in "rest 0 32" "rest 10000 32" "ws 10000 32" "rest 2000 32" "ws 2000 32"; do
    set -- $spec
    tput=(); p50=(); p99=(); p999=(); errs=()
    for _ in $(seq "$RUNS"); do
      out=$(loadgen "$1" "$2" "$3")
      tput+=("$(echo "$out" | field orders_per_s)")
      p50+=("$(echo "$out" | field place_p50_us)")
      p99+=("$(echo "$out" | field place_p99_us)")
      p999+=("$(echo "$out" | field place_p999_us)")
      errs+=("$(echo "$out" | field errors)")
    done
    printf "%-6s %-4s offered %-6s conns %-3s  orders/s %-7s place ack p50 %-6s p99 %-6s p99.9 %-6s us  errors %s\n" \
      "$durability" "$1" "$2" "$3" "$(median "${tput[@]}")" "$(median "${p50[@]}")" "$(median "${p99[@]}")" \
      "$(median "${p999[@]}")" "${errs[*]}"
  done
  stop_server
done

echo "== GET /v1/ticker/BTC-USD vs nginx static 200 (wrk -t2 -d${DURATION}s), $RUNS runs, median req/s"
NGINX_PORT=$(free_port)
NGINX_TLS_PORT=$(free_port)
mkdir -p "$WORK/nginx"
# One self-signed P-256 certificate for both servers' TLS runs.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:$NGINX_PORT; location / { return 200 "ok"; } }
  server {
    listen 127.0.0.1:$NGINX_TLS_PORT ssl;
    ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "ok"; }
  }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NGINX_PID=$!
start_server fsync
sleep 0.5
wrk_rps() { wrk -t2 -c"$1" -d"${DURATION}s" "$2" | awk '/Requests\/sec/ {print $2}'; }
for conns in 64 256; do
  ours=(); theirs=()
  for _ in $(seq "$RUNS"); do
    ours+=("$(wrk_rps "$conns" "http://127.0.0.1:$PORT/v1/ticker/BTC-USD")")
    theirs+=("$(wrk_rps "$conns" "http://127.0.0.1:$NGINX_PORT/")")
  done
  o=$(median "${ours[@]}"); n=$(median "${theirs[@]}")
  printf "wrk -c%-4s bourse ticker %-8s req/s   nginx static %-8s req/s   ratio %s%%\n" "$conns" "$o" "$n" \
    "$(python3 -c "print(round(100*$o/$n))")"
done
stop_server

echo "== the same over TLS (keep-alive, so handshakes are amortized), wrk -c64"
start_server fsync "--tls-cert $WORK/cert.pem --tls-key $WORK/key.pem"
sleep 0.5
ours=(); theirs=()
for _ in $(seq "$RUNS"); do
  ours+=("$(wrk_rps 64 "https://127.0.0.1:$PORT/v1/ticker/BTC-USD")")
  theirs+=("$(wrk_rps 64 "https://127.0.0.1:$NGINX_TLS_PORT/")")
done
o=$(median "${ours[@]}"); n=$(median "${theirs[@]}")
printf "wrk -c64 https bourse ticker %-8s req/s   nginx static %-8s req/s   ratio %s%%\n" "$o" "$n" \
  "$(python3 -c "print(round(100*$o/$n))")"
stop_server
