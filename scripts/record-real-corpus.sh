#!/usr/bin/env bash
# Re-records the real-program corpus (tests/data/real/) with soak itself.
#
#   scripts/record-real-corpus.sh NAME...     # or: all
#
# NAME is one of: redis_growing redis_fixed memcached_cap nginx_wrk jvm_healthy jvm_leak
# node_healthy node_leak python_slow_leak stress_ramp.
#
# Each recording starts a real program (the packages scripts/setup.sh installs), drives it with a
# bounded load (count and time) to 127.0.0.1 or a unix socket only, and records it with
# `soak attach PID` (or `soak run SCENARIO.json` for stress_ramp) at 1 s for DURATION (default
# 10m; 15m for the JVM ones). The run directory goes to $OUT_ROOT/NAME (default
# build/real-corpus/NAME) and its samples log, gzip -9, to tests/data/real/NAME.ndjson.gz.
# Recordings are independent: run several at once in separate shells if the machine allows.
#
# Environment: SOAK (default build/cli/soak), OUT_ROOT, DURATION (overrides every default),
# PYTHON (default /usr/bin/python3).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
SOAK="${SOAK:-$here/build/cli/soak}"
OUT_ROOT="${OUT_ROOT:-$here/build/real-corpus}"
PYTHON="${PYTHON:-/usr/bin/python3}"
programs="$here/tests/programs"
data="$here/tests/data/real"

all=(redis_growing redis_fixed memcached_cap nginx_wrk jvm_healthy jvm_leak node_healthy
     node_leak python_slow_leak stress_ramp)

# Seconds in a soak duration such as 10m, 15m, 90s.
seconds_of() {
  case "$1" in
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *h) echo $(( ${1%h} * 3600 )) ;;
    *) echo "$1" ;;
  esac
}

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until a TCP port on 127.0.0.1 accepts connections (at most 20 s).
wait_port() {
  for _ in $(seq 200); do
    if "$PYTHON" -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null
    then return 0; fi
    sleep 0.1
  done
  echo "record: nothing listens on port $1" >&2
  return 1
}

wait_file() {
  for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.1; done
  echo "record: $1 did not appear" >&2
  return 1
}

pids=()
cleanup() {
  for p in "${pids[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}

# soak attach PID for the recording's duration into the run directory.
attach() {
  "$SOAK" attach "$1" --duration "$duration" --quiet --out "$out" || true
}

record_redis() {  # $1: growing | fixed
  local sock="$work/redis.sock"
  redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no --dir "$work" \
    --daemonize no >"$work/redis.log" 2>&1 &
  local server=$!; pids+=("$server")
  wait_file "$sock"
  if [ "$1" = growing ]; then
    # New keys, 1 KB values, 100 a second: about 7 MB/min of new data, never overwritten.
    "$PYTHON" "$programs/kv_fill.py" --proto redis --unix "$sock" --mode growing \
      --value-bytes 1024 --rate 100 --duration "$((secs + 30))" --max-ops 200000 &
  else
    # 20000 keys written over and over (1 KB values, 200 a second): the keyspace fills in
    # about 100 s, then every SET replaces a value of the same size.
    "$PYTHON" "$programs/kv_fill.py" --proto redis --unix "$sock" --mode fixed --keys 20000 \
      --value-bytes 1024 --rate 200 --duration "$((secs + 30))" --max-ops 300000 &
  fi
  pids+=($!)
  attach "$server"
}

record_memcached() {
  local port; port="$(free_port)"
  # A 64 MB cap, filled by new keys (1000 B values, 250 a second: about 4 minutes to the cap),
  # after which memcached evicts and its memory stays at the cap.
  memcached -u "$(id -un)" -l 127.0.0.1 -p "$port" -U 0 -m 64 -t 2 >"$work/memcached.log" 2>&1 &
  local server=$!; pids+=("$server")
  wait_port "$port"
  "$PYTHON" "$programs/kv_fill.py" --proto memcached --port "$port" --mode growing \
    --value-bytes 1000 --rate 250 --duration "$((secs + 30))" --max-ops 250000 &
  pids+=($!)
  attach "$server"
}

record_nginx() {
  local port; port="$(free_port)"
  mkdir -p "$work/nginx/logs" "$work/nginx/html"
  echo "hello from nginx" >"$work/nginx/html/index.html"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    root $work/nginx/html;
  }
}
CONF
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
  local server=$!; pids+=("$server")
  wait_port "$port"
  # wrk for the whole run, each connection pausing 2 ms between requests (bounded CPU).
  cat >"$work/delay.lua" <<'LUA'
function delay() return 2 end
LUA
  wrk -t1 -c4 -d "$((secs + 30))s" -s "$work/delay.lua" "http://127.0.0.1:$port/" \
    >"$work/wrk.log" 2>&1 &
  pids+=($!)
  attach "$server"
}

record_jvm() {  # $1: healthy | leak
  mkdir -p "$work/classes"
  javac -d "$work/classes" "$programs/GcSawtooth.java"
  local leak_kb=0
  [ "$1" = leak ] && leak_kb=100  # 100 KiB/s kept for good: about 6 MiB/min of live set
  # 5 MiB/s of garbage over a 64 MiB live set, G1, heap at most 384 MiB. The program serves its
  # heap (used, committed) as JSON: soak's json probe records it as heap.jvm_used_bytes and
  # heap.jvm_committed_bytes, the GC sawtooth beside RSS.
  java -XX:+UseG1GC -Xms64m -Xmx384m -cp "$work/classes" GcSawtooth 5 64 "$leak_kb" \
    "$((secs + 30))" >"$work/java.out" &
  local server=$!; pids+=("$server")
  for _ in $(seq 100); do grep -q listening "$work/java.out" 2>/dev/null && break; sleep 0.1; done
  local port; port="$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/java.out" | head -1)"
  "$SOAK" attach "$server" --duration "$duration" --quiet --out "$out" \
    --probe "json http://127.0.0.1:$port/heap /used_bytes as jvm_used_bytes, /committed_bytes as jvm_committed_bytes every=1s" \
    || true
}

record_node() {  # $1: healthy | leak
  local flag=""
  [ "$1" = leak ] && flag="--leak"
  node "$programs/http_server.js" $flag >"$work/node.out" &
  local server=$!; pids+=("$server")
  for _ in $(seq 100); do grep -q listening "$work/node.out" 2>/dev/null && break; sleep 0.1; done
  local port; port="$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/node.out" | head -1)"
  # 50 requests a second for the whole run, at most 60000.
  node "$programs/http_load.js" "$port" 50 "$((secs + 30))" 60000 &
  pids+=($!)
  # V8's heap, from the server's /heap, as heap.v8_used_bytes and heap.v8_total_bytes.
  "$SOAK" attach "$server" --duration "$duration" --quiet --out "$out" \
    --probe "json http://127.0.0.1:$port/heap /heap_used_bytes as v8_used_bytes, /heap_total_bytes as v8_total_bytes every=1s" \
    || true
}

record_python() {
  # 4 KiB a second kept in a list: about 0.24 MB/min.
  "$PYTHON" "$programs/slow_leak.py" --kib-per-s 4 --duration "$((secs + 30))" &
  local server=$!; pids+=("$server")
  sleep 0.5
  attach "$server"
}

record_stress_ramp() {
  # soak's own driver: an open-model rate ramp up and back down against ramp_server.py, whose
  # memory is about (rate x hold time) x buffer. The scenario is written with absolute paths.
  local stage_s=$(( secs / 8 ))
  cat >"$work/stress_ramp.json" <<JSON
{
  "name": "real-stress-ramp",
  "description": "Open-model ramp 5, 10, 20, 40, 80, 40, 20, 10 requests/s against a server that holds a 1 MiB buffer per request for 1 s.",
  "target": {
    "command": ["$PYTHON", "$programs/ramp_server.py", "--buffer-mib", "1", "--hold-ms", "1000"],
    "port_from_output": "listening on [0-9.]+:([0-9]+)",
    "ready": {"http": "/health", "timeout": "10s"}
  },
  "sampling": {"interval": "1s"},
  "duration": "$duration",
  "load": {
    "model": "open",
    "connections": 128,
    "timeout": "10s",
    "shape": {"stages": [
      {"duration": "${stage_s}s", "rate": 5},
      {"duration": "${stage_s}s", "rate": 10},
      {"duration": "${stage_s}s", "rate": 20},
      {"duration": "${stage_s}s", "rate": 40},
      {"duration": "${stage_s}s", "rate": 80},
      {"duration": "${stage_s}s", "rate": 40},
      {"duration": "${stage_s}s", "rate": 20},
      {"duration": "${stage_s}s", "rate": 10}
    ]},
    "requests": [{"name": "work", "method": "GET", "path": "/work"}]
  },
  "limits": {"error_rate": "5%"}
}
JSON
  "$SOAK" run "$work/stress_ramp.json" --quiet --out "$out" || true
}

record_one() {
  local name="$1"
  duration="${DURATION:-10m}"
  case "$name" in jvm_*) duration="${DURATION:-15m}" ;; esac
  secs="$(seconds_of "$duration")"
  out="$OUT_ROOT/$name"
  work="$OUT_ROOT/$name.work"
  rm -rf "$out" "$work"
  mkdir -p "$work" "$OUT_ROOT"
  pids=()
  trap cleanup EXIT
  echo "record: $name for $duration into $out" >&2
  case "$name" in
    redis_growing) record_redis growing ;;
    redis_fixed) record_redis fixed ;;
    memcached_cap) record_memcached ;;
    nginx_wrk) record_nginx ;;
    jvm_healthy) record_jvm healthy ;;
    jvm_leak) record_jvm leak ;;
    node_healthy) record_node healthy ;;
    node_leak) record_node leak ;;
    python_slow_leak) record_python ;;
    stress_ramp) record_stress_ramp ;;
    *) echo "record: unknown recording '$name' (one of: ${all[*]})" >&2; exit 2 ;;
  esac
  cleanup
  trap - EXIT
  mkdir -p "$data"
  gzip -9 -c "$out/samples.ndjson" >"$data/$name.ndjson.gz"
  echo "record: $name -> $data/$name.ndjson.gz ($(stat -c %s "$data/$name.ndjson.gz") bytes)" >&2
}

if [ $# -eq 0 ]; then
  echo "usage: $0 NAME... | all   (NAME: ${all[*]})" >&2
  exit 2
fi
names=("$@")
[ "$1" = all ] && names=("${all[@]}")
for n in "${names[@]}"; do record_one "$n"; done
