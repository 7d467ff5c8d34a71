#!/usr/bin/env bash
# Kafka Connect worker (standalone) with the Debezium PostgreSQL connector, for slaclock's
# change-data-capture tests. No Docker: the jars come from Maven Central, like the broker's.
#
#   services/connect/connect.sh start|stop|status|restart|run
#
# start   resolves the worker jars from Maven Central once (services/connect/pom.xml ->
#         var/connect/libs, reused while the POM is unchanged), writes a log4j2 config and a
#         worker.properties, and runs
#           java ... org.apache.kafka.connect.cli.ConnectStandalone worker.properties
#         in the background with NO connector: tests (and operators) add connectors through
#         the REST API (PUT /connectors/NAME/config), so one worker serves any database.
#         The worker's file offset store is emptied at every start (like the broker, which
#         starts with no topics). Waits until the REST API lists connectors. The broker
#         (services/kafka/kafka.sh) must answer first. If a worker already answers on the
#         REST port, start does nothing and succeeds.
# stop    SIGTERM the worker started by this script, wait up to 30 s, then SIGKILL.
# status  exit 0 if a worker answers on the REST port, 3 otherwise.
# run     the same worker in the foreground (exec java): for containers (docker-compose.yml).
#
# Environment (all optional):
#   CONNECT_HOST            REST listener host                  (default 127.0.0.1)
#   CONNECT_PORT            REST listener port                  (default 8083)
#   CONNECT_BOOTSTRAP       Kafka bootstrap servers             (default 127.0.0.1:${KAFKA_PORT:-9092})
#   CONNECT_HEAP_OPTS       JVM heap                            (default -Xms128m -Xmx512m)
#   CONNECT_START_TIMEOUT   seconds to wait for the REST API    (default 120)
#   CONNECT_VAR_DIR         state dir (libs, offsets, log, pid) (default <repo>/var/connect)
# Files: var/connect/connect.pid, var/connect/connect.log (the worker's log4j2 output),
# var/connect/offsets.dat (source offsets: where each connector is in its database's WAL).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"

CONNECT_HOST="${CONNECT_HOST:-127.0.0.1}"
CONNECT_PORT="${CONNECT_PORT:-8083}"
CONNECT_BOOTSTRAP="${CONNECT_BOOTSTRAP:-127.0.0.1:${KAFKA_PORT:-9092}}"
CONNECT_HEAP_OPTS="${CONNECT_HEAP_OPTS:--Xms128m -Xmx512m}"
CONNECT_START_TIMEOUT="${CONNECT_START_TIMEOUT:-120}"
VAR_DIR="${CONNECT_VAR_DIR:-$REPO/var/connect}"
LIBS="$VAR_DIR/libs"
PID_FILE="$VAR_DIR/connect.pid"
LOG_FILE="$VAR_DIR/connect.log"
PROPS="$VAR_DIR/worker.properties"
OFFSETS="$VAR_DIR/offsets.dat"
LOG4J="$VAR_DIR/log4j2.properties"
REST="http://$CONNECT_HOST:$CONNECT_PORT"
MAIN_CLASS="ConnectStandalone"
# shellcheck source=../java-service.sh
source "$SCRIPT_DIR/../java-service.sh"

say() { echo "connect.sh: $*"; }
die() { echo "connect.sh: ERROR: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# The REST API answers and lists connectors (a JSON array).
worker_answers() {
  port_open "$CONNECT_HOST" "$CONNECT_PORT" || return 1
  local body
  body="$(curl -fsS --max-time 5 "$REST/connectors" 2>/dev/null)" || return 1
  [[ "$body" == \[* ]]
}

write_configs() {
  write_log4j "$LOG4J" slaclock-connect \
    "Written by services/connect/connect.sh: WARN and above, plus connector, task and snapshot states." \
    org.apache.kafka.connect.runtime.Worker io.debezium.connector.postgresql

  cat >"$PROPS" <<CONF
# Written by services/connect/connect.sh: standalone Kafka Connect worker for tests only.
bootstrap.servers=$CONNECT_BOOTSTRAP
# Message keys and values as plain JSON (no schema envelope): what slaclock consume --source reads.
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
# Where each connector is in its source (the PostgreSQL LSN); flushed every second.
offset.storage.file.filename=$OFFSETS
offset.flush.interval.ms=1000
listeners=http://$CONNECT_HOST:$CONNECT_PORT
# The connector jars are on the class path (libs/*): found by their ServiceLoader manifests.
plugin.discovery=service_load
CONF
}

cmd_start() {
  if worker_answers; then
    say "a worker already answers on $REST: nothing to do"
    return 0
  fi
  local pid; pid="$(read_pid)"
  if pid_alive "$pid"; then
    say "worker process $pid is running but not answering yet; waiting for it"
  else
    if port_open "$CONNECT_HOST" "$CONNECT_PORT"; then
      die "port $CONNECT_HOST:$CONNECT_PORT is in use by something that is not a Connect worker"
    fi
    local kafka_host="${CONNECT_BOOTSTRAP%%,*}"
    port_open "${kafka_host%:*}" "${kafka_host##*:}" \
      || die "no Kafka broker on $CONNECT_BOOTSTRAP (start it first: services/kafka/kafka.sh start)"
    rm -f "$PID_FILE"
    ensure_java_tools curl
    mkdir -p "$VAR_DIR"
    ensure_libs "debezium-connector-postgres-*.jar" "Kafka Connect and Debezium"
    write_configs
    rm -f "$OFFSETS"  # fresh worker, like the fresh broker

    say "starting worker (REST $REST, Kafka $CONNECT_BOOTSTRAP), log $LOG_FILE"
    # shellcheck disable=SC2086
    pid="$(launch_java worker $CONNECT_HEAP_OPTS -Dlog4j2.configurationFile="$LOG4J" \
      -cp 'libs/*' org.apache.kafka.connect.cli.ConnectStandalone "$PROPS")"
  fi

  wait_ready worker "$REST" "$pid" "$CONNECT_START_TIMEOUT" worker_answers
}

cmd_run() {
  ensure_java_tools
  mkdir -p "$VAR_DIR"
  ensure_libs "debezium-connector-postgres-*.jar" "Kafka Connect and Debezium"
  write_configs
  say "running worker in the foreground (REST $REST, Kafka $CONNECT_BOOTSTRAP)"
  cd "$VAR_DIR"
  # shellcheck disable=SC2086
  exec java $CONNECT_HEAP_OPTS -Dlog4j2.configurationFile="$LOG4J" -cp 'libs/*' \
    org.apache.kafka.connect.cli.ConnectStandalone "$PROPS"
}

listening() { port_open "$CONNECT_HOST" "$CONNECT_PORT"; }
cmd_stop() { stop_service worker "$REST"; }
cmd_status() { service_status worker "$REST" worker_answers; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_stop; cmd_start ;;
  run) cmd_run ;;
  *) echo "usage: $0 start|stop|status|restart|run" >&2; exit 2 ;;
esac
