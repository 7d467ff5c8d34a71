#!/usr/bin/env bash
# Single-node Apache Kafka broker (KRaft, no ZooKeeper, no Docker) for slaclock's tests.
#
#   services/kafka/kafka.sh start|stop|status|restart
#
# start   resolves the broker jars from Maven Central once (services/kafka/pom.xml ->
#         var/kafka/libs, reused while the POM is unchanged), writes a log4j2 config and a
#         KRaft server.properties, formats a FRESH log dir (var/kafka/data: every start
#         begins with no topics), runs `java ... kafka.Kafka server.properties` in the
#         background and waits until kafka-python's admin client can describe the cluster.
#         If a broker already answers on the port, start does nothing and succeeds.
# stop    SIGTERM the broker started by this script, wait up to 30 s, then SIGKILL.
# status  exit 0 if a broker answers on the port, 3 otherwise.
#
# Environment (all optional):
#   KAFKA_HOST               listen/advertised host           (default 127.0.0.1)
#   KAFKA_PORT               PLAINTEXT client port            (default 9092)
#   KAFKA_CONTROLLER_PORT    KRaft controller port            (default 9093)
#   KAFKA_HEAP_OPTS          JVM heap                         (default -Xms256m -Xmx512m)
#   KAFKA_START_TIMEOUT      seconds to wait for readiness    (default 90)
#   KAFKA_VAR_DIR            state dir (libs, data, logs, pid) (default <repo>/var/kafka)
#   PYTHON                   interpreter with kafka-python    (default <repo>/.venv/bin/python)
# Files: var/kafka/kafka.pid, var/kafka/kafka.log (broker stdout/stderr = its log4j2 output).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"

KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
VAR_DIR="${KAFKA_VAR_DIR:-$REPO/var/kafka}"
LIBS="$VAR_DIR/libs"
DATA="$VAR_DIR/data"
PID_FILE="$VAR_DIR/kafka.pid"
LOG_FILE="$VAR_DIR/kafka.log"
PROPS="$VAR_DIR/server.properties"
LOG4J="$VAR_DIR/log4j2.properties"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
MAIN_CLASS="kafka.Kafka"
# shellcheck source=../java-service.sh
source "$SCRIPT_DIR/../java-service.sh"

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi

say() { echo "kafka.sh: $*"; }
die() { echo "kafka.sh: ERROR: $*" >&2; exit 1; }

# Port accepts TCP connections (cheap pre-check before the Python client).
port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/${1:-$KAFKA_PORT}") 2>/dev/null; }

# A broker answers: kafka-python's admin client bootstraps and describe_cluster() lists a broker.
broker_answers() {
  port_open || return 1
  "$PYTHON" - "$BOOTSTRAP" >/dev/null 2>&1 <<'PY'
import logging, sys
logging.disable(logging.CRITICAL)
from kafka import KafkaAdminClient
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], bootstrap_timeout_ms=5000,
                         request_timeout_ms=5000)
try:
    info = admin.describe_cluster()
    sys.exit(0 if info.get("brokers") else 1)
finally:
    admin.close()
PY
}

ensure_tools() {
  ensure_java_tools
  "$PYTHON" -c 'import kafka' 2>/dev/null \
    || die "$PYTHON cannot import kafka (kafka-python); install the project into .venv first"
}

write_configs() {
  write_log4j "$LOG4J" slaclock-kafka \
    'Written by services/kafka/kafka.sh. WARN and above, plus the "Kafka Server started" line.' \
    kafka.server.KafkaRaftServer

  cat >"$PROPS" <<EOF
# Written by services/kafka/kafka.sh: single-node KRaft broker+controller for tests only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# The 128 MB default is taken from the heap at start-up.
log.cleaner.dedupe.buffer.size=4194304
EOF
}

java_run() {  # java_run <main class> <args...>, run from $VAR_DIR
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is meant to split into several options
  (cd "$VAR_DIR" && exec java $KAFKA_HEAP_OPTS -Dlog4j2.configurationFile="$LOG4J" \
      -cp 'libs/*' "$@")
}

cmd_start() {
  if broker_answers; then
    say "a broker already answers on $BOOTSTRAP: nothing to do"
    return 0
  fi
  local pid; pid="$(read_pid)"
  if pid_alive "$pid"; then
    say "broker process $pid is running but not answering yet; waiting for it"
  else
    if port_open; then
      die "port $KAFKA_HOST:$KAFKA_PORT is in use by something that is not a Kafka broker"
    fi
    if port_open "$KAFKA_CONTROLLER_PORT"; then
      die "controller port $KAFKA_HOST:$KAFKA_CONTROLLER_PORT is already in use (stale broker? see 'ss -ltnp')"
    fi
    rm -f "$PID_FILE"
    ensure_tools
    mkdir -p "$VAR_DIR"
    ensure_libs "kafka_2.13-*.jar" broker
    write_configs

    # Fresh log dir every start (tests expect an empty broker).
    rm -rf "$DATA"
    local cluster_id
    cluster_id="$("$PYTHON" -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break')"
    say "formatting $DATA (cluster id $cluster_id)"
    java_run kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$PROPS" \
      >"$VAR_DIR/format.log" 2>&1 || { cat "$VAR_DIR/format.log" >&2; die "storage format failed"; }

    say "starting broker on $BOOTSTRAP (controller $KAFKA_HOST:$KAFKA_CONTROLLER_PORT), log $LOG_FILE"
    # shellcheck disable=SC2086
    pid="$(launch_java broker $KAFKA_HEAP_OPTS -Dlog4j2.configurationFile="$LOG4J" \
      -cp 'libs/*' kafka.Kafka "$PROPS")"
  fi

  wait_ready broker "$BOOTSTRAP" "$pid" "$KAFKA_START_TIMEOUT" broker_answers
}

listening() { port_open; }
cmd_stop() { stop_service broker "$BOOTSTRAP"; }
cmd_status() { service_status broker "$BOOTSTRAP" broker_answers; }

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_stop; cmd_start ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
