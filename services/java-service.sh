#!/usr/bin/env bash
# Shared by services/kafka/kafka.sh and services/connect/connect.sh (sourced, not run): a JVM
# service resolved from Maven Central with its pom.xml and run in the background from a pid
# file. The sourcing script sets POM, VAR_DIR, LIBS, PID_FILE, MAIN_CLASS (a text its java
# command line contains) and defines say, die and listening (is something on its port?).

read_pid() { if [[ -f "$PID_FILE" ]]; then cat "$PID_FILE" 2>/dev/null || true; fi; }

# Alive AND really our service (guards against a recycled pid from a stale pid file).
# (No `tr | grep -q` pipe here: with pipefail, grep -q's early exit can SIGPIPE tr -> false.)
pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"$MAIN_CLASS"* ]]
}

# java and mvn (plus any other Debian packages named as arguments, e.g. curl).
ensure_java_tools() {
  local missing=0 tool
  for tool in java mvn "$@"; do command -v "$tool" >/dev/null || missing=1; done
  if ((missing)); then
    say "installing openjdk-17-jre-headless, maven $* with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless maven "$@" >/dev/null
  fi
}

# Copy the runtime jars of $POM into $LIBS once; redo it when pom.xml changes (hash stamp).
# ensure_libs <glob of a jar that must be there> <what, for the message>
ensure_libs() {
  local marker="$1" what="$2" stamp want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  stamp="$LIBS/.pom.sha256"
  # shellcheck disable=SC2086  # the marker is a glob
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "$LIBS/"$marker >/dev/null; then
    return 0
  fi
  say "resolving $what jars with Maven into $LIBS (first run only)..."
  rm -rf "$LIBS.tmp"
  local try
  for try in 1 2; do  # one retry: a flaky registry download should not fail CI
    if mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >"$VAR_DIR/mvn.log" 2>&1; then
      break
    fi
    tail -n 30 "$VAR_DIR/mvn.log" >&2
    (( try == 1 )) || die "mvn dependency:copy-dependencies failed (log: $VAR_DIR/mvn.log)"
    say "mvn failed; retrying once"
    sleep 5
  done
  echo "$want" >"$LIBS.tmp/.pom.sha256"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  # shellcheck disable=SC2086
  say "$(ls "$LIBS"/*.jar | wc -l) jars in $LIBS ($(basename "$(ls "$LIBS/"$marker)"))"
}

# SIGTERM the service started from $PID_FILE, wait up to 30 s, then SIGKILL.
# stop_service <what> <address, for the messages>
stop_service() {
  local what="$1" address="$2" pid i
  pid="$(read_pid)"
  if ! pid_alive "$pid"; then
    rm -f "$PID_FILE"
    if listening; then
      say "no $what started by this script, but something listens on $address; left alone"
    else
      say "not running"
    fi
    return 0
  fi
  say "stopping $what pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    pid_alive "$pid" || { rm -f "$PID_FILE"; say "stopped"; return 0; }
    sleep 1
  done
  say "still running after 30 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 10; i++)); do pid_alive "$pid" || break; sleep 0.5; done
  rm -f "$PID_FILE"
  say "killed"
}

# exit 0 if the service answers, 3 otherwise.
# service_status <what> <address> <function telling whether it answers>
service_status() {
  local what="$1" address="$2" answers="$3" pid
  pid="$(read_pid)"
  if "$answers"; then
    if pid_alive "$pid"; then say "running: pid $pid, answering on $address"
    else say "a $what (not started by this script) answers on $address"; fi
    return 0
  fi
  if pid_alive "$pid"; then say "pid $pid is alive but not answering on $address"
  else say "not running"; fi
  return 3
}

# write_log4j FILE NAME COMMENT LOGGER...: a Log4j 2 configuration printing WARN and above
# to the console, plus INFO from each LOGGER (a class or package name).
write_log4j() {
  local file=$1 name=$2 comment=$3 logger n=0
  shift 3
  {
    echo "# $comment"
    echo "status = warn"
    echo "name = $name"
    echo "appender.console.type = Console"
    echo "appender.console.name = STDOUT"
    echo "appender.console.layout.type = PatternLayout"
    echo "appender.console.layout.pattern = [%d] %p %m (%c)%n"
    echo "rootLogger.level = WARN"
    echo "rootLogger.appenderRef.stdout.ref = STDOUT"
    for logger in "$@"; do
      n=$((n + 1))
      echo "logger.info$n.name = $logger"
      echo "logger.info$n.level = INFO"
    done
  } >"$file"
}

# Start `java ARGS...` in the background from $VAR_DIR (stdout/stderr to $LOG_FILE) and print
# its pid. setsid: own session, so the JVM outlives the caller's process group / terminal. The
# JVM's shell writes its own pid file (`echo $$` right before `exec`): `$!` is not its pid when
# this script runs with job control on (SHELLOPTS=monitor, as some CI runners export), because
# setsid then forks and its parent exits at once.
# launch_java <what> <java arguments...>
launch_java() {
  local what="$1" waited pid
  shift
  # shellcheck disable=SC2016
  (cd "$VAR_DIR" && exec setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' "slaclock-$what" \
    "$PID_FILE" nohup java "$@") >"$LOG_FILE" 2>&1 </dev/null &
  for ((waited = 0; waited < 100; waited++)); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.1
  done
  pid="$(read_pid)"
  [[ -n "$pid" ]] || die "the $what process did not write $PID_FILE"
  echo "$pid"
}

# Wait until <answers> succeeds; die (with the log's tail) if the process exits or the
# timeout passes. wait_ready <what> <address> <pid> <timeout s> <function telling it answers>
wait_ready() {
  local what="$1" address="$2" pid="$3" timeout="$4" answers="$5" start=$SECONDS
  while (( SECONDS - start < timeout )); do
    if ! pid_alive "$pid"; then
      echo "---- last lines of $LOG_FILE ----" >&2; tail -n 40 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      die "$what process $pid exited during start-up"
    fi
    if "$answers"; then
      say "$what ready on $address (pid $pid, ${SECONDS}s since script start)"
      return 0
    fi
    sleep 1
  done
  echo "---- last lines of $LOG_FILE ----" >&2; tail -n 40 "$LOG_FILE" >&2 || true
  die "$what did not answer on $address within ${timeout}s (still running as pid $pid; run '$0 stop')"
}
