#!/usr/bin/env bash
# Run a private InfluxDB 1.x for the benchmark peer, bound to 127.0.0.1 only.
#
#   bash scripts/influxdb.sh          start it (install Debian's influxdb first if missing)
#   bash scripts/influxdb.sh stop     stop it
#   bash scripts/influxdb.sh status   say whether it answers
#
# State lives under .werk/bench/influxdb (config, meta, data, wal, log, pid). Starting is
# idempotent: an instance that already answers /ping is left alone. Listens on HTTP only
# (WERK_BENCH_INFLUX_PORT, default 18086); the RPC service binds 127.0.0.1 too, every other
# listener (graphite, collectd, opentsdb, udp, ifql) is off, and usage reporting is disabled.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${WERK_BENCH_INFLUX_PORT:-18086}
rpc_port=$((port + 2))
dir=${WERK_BENCH_INFLUX_DIR:-$root/.werk/bench/influxdb}
conf=$dir/influxdb.conf
pidfile=$dir/influxd.pid
log=$dir/influxd.log

ping() { curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/ping"; }

running_pid() {
  [ -s "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

install() {
  command -v influxd >/dev/null && return 0
  echo "influxdb: influxd missing, installing Debian's influxdb"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q influxdb >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q influxdb >/dev/null
  }
  # The package may start a system instance on :8086 (all interfaces); the benchmark runs its
  # own, so stop that one if the packaging started it.
  if command -v service >/dev/null; then service influxdb stop >/dev/null 2>&1 || true; fi
}

write_config() {
  mkdir -p "$dir/meta" "$dir/data" "$dir/wal"
  cat >"$conf" <<EOF
# Written by scripts/influxdb.sh for the werk benchmark; rewritten on every start.
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"

[meta]
  dir = "$dir/meta"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  index-version = "inmem"
  query-log-enabled = false
  # The benchmark writes 100k series in one go; the defaults would refuse or throttle that.
  max-series-per-database = 0
  max-values-per-tag = 0
  cache-max-memory-size = "8g"

[coordinator]
  write-timeout = "60s"

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false
  max-body-size = 0

[ifql]
  enabled = false

[logging]
  level = "warn"
  suppress-logo = true
EOF
}

# An instance can answer /ping and still be unable to write: its directory was deleted under
# it (a removed checkout, a cleaned .werk). Creating a database tells, if the name is new: one
# that exists already is a no-op that touches no file.
writable() {
  local out name="werk_probe_$$_$RANDOM"
  out=$(curl -fs --max-time 5 -XPOST "http://127.0.0.1:$port/query" \
    --data-urlencode "q=CREATE DATABASE $name") || return 1
  [[ "$out" != *'"error"'* ]] || return 1
  curl -fs -o /dev/null --max-time 5 -XPOST "http://127.0.0.1:$port/query" \
    --data-urlencode "q=DROP DATABASE $name" || true
}

# Stop whatever influxd listens on the port (one started from another checkout included).
stop_listener() {
  local pids
  pids=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  for p in $pids; do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = influxd ] || continue
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$p" 2>/dev/null || true
  done
}

start() {
  if ping; then
    if writable; then
      echo "influxdb: up on 127.0.0.1:$port"
      return 0
    fi
    echo "influxdb: the instance on 127.0.0.1:$port cannot write (its directory is gone?); restarting"
    stop_listener
  fi
  install
  if pid=$(running_pid); then
    echo "influxdb: pid $pid is not answering; stopping it first"
    stop
  fi
  write_config
  nohup influxd -config "$conf" -pidfile "$pidfile" >>"$log" 2>&1 &
  for _ in $(seq 1 100); do
    if ping; then
      echo "influxdb: started on 127.0.0.1:$port ($(influxd version | head -n1))"
      return 0
    fi
    sleep 0.1
  done
  echo "influxdb: did not answer /ping on 127.0.0.1:$port; see $log" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    echo "influxdb: not running"
    rm -f "$pidfile"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  rm -f "$pidfile"
  echo "influxdb: stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status)
    if ping; then echo "influxdb: up on 127.0.0.1:$port"; else echo "influxdb: down"; exit 1; fi
    ;;
  *)
    echo "usage: $0 [start|stop|status]" >&2
    exit 2
    ;;
esac
