#!/usr/bin/env bash
# Make sure the local services werk's tests use are up; start the ones that are down.
# With WERK_REQUIRE_SERVICES=1 a service that cannot be started fails the run.
set -u
require=${WERK_REQUIRE_SERVICES:-0}
status=0

up() { (echo >"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

wait_up() {
  for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.2; done
  return 1
}

ensure() {
  local name=$1 port=$2; shift 2
  if up "$port"; then echo "services: $name up on 127.0.0.1:$port"; return; fi
  echo "services: $name down on 127.0.0.1:$port, starting it"
  "$@" >/dev/null 2>&1 || true
  if wait_up "$port"; then echo "services: $name started"; return; fi
  if [ "$require" = "1" ]; then
    echo "services: $name could not be started and WERK_REQUIRE_SERVICES=1" >&2
    status=1
  else
    echo "services: $name unavailable; tests that need it will be skipped" >&2
  fi
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null || apt-get install -y -q postgresql >/dev/null
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
}
start_mosquitto() {
  command -v mosquitto >/dev/null || apt-get install -y -q mosquitto >/dev/null
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
}
start_nats() {
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
}

ensure postgresql 5432 start_postgres
ensure mosquitto 1883 start_mosquitto
ensure nats 4222 start_nats
exit $status
