#!/usr/bin/env bash
# dev/kafka-apache.sh: a single-node Apache Kafka (KRaft, broker and
# controller in one JVM) for the dev stack's KAFKA=apache mode.
#
#   kafka-apache.sh fetch     put Kafka's jars in the cache (Maven Central)
#   kafka-apache.sh start     fetch if needed, format storage on first start,
#                             start, wait, create the topics; prints the
#                             bootstrap address (and nothing else) on stdout
#   kafka-apache.sh stop      SIGTERM (controlled shutdown), SIGKILL after 30 s
#   kafka-apache.sh status    one line
#   kafka-apache.sh running   exit status only
#
# stack.sh calls it; it can be run by hand with the same environment:
#   PV_STACK_DIR (default <repo>/.dev), PV_PORT_BASE (default 25400; broker
#   base+92, controller base+93), KAFKA_PARTITIONS (default 4),
#   KAFKA_HOME (optional: use a local kafka_2.13-3.9.x distribution's libs/
#   instead of fetching), PV_KAFKA_CACHE (default <repo>/.cache/kafka/<ver>),
#   KAFKA_HEAP_OPTS (default -Xms256m -Xmx512m), PV_MAVEN_REPO (optional:
#   Maven's local repository instead of ~/.m2/repository, e.g. a CI cache).
#
# The fetch tries Maven offline first: a machine whose ~/.m2 already holds
# the jars (an earlier clone, an earlier CI run) needs no network at all.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source-path=SCRIPTDIR
. "$HERE/lib.sh"
say()  { printf '%s\n' "stack: kafka: $*" >&2; }

KAFKA_VERSION=3.9.1
BASE=${PV_PORT_BASE:-25400}
S=$(cd "$ROOT" && abspath "${PV_STACK_DIR:-$ROOT/.dev}")
BPORT=${KAFKA_BROKER_PORT:-$((BASE + 92))}
CPORT=${KAFKA_CONTROLLER_PORT:-$((BASE + 93))}
PARTITIONS=${KAFKA_PARTITIONS:-4}
CACHE=${PV_KAFKA_CACHE:-$ROOT/.cache/kafka/$KAFKA_VERSION}
HEAP=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
START_TIMEOUT=${PV_KAFKA_START_TIMEOUT:-120}

KDIR=$S/kafka
RUN=$S/run
LOGS=$S/logs
PIDFILE=$RUN/kafka.pid
BOOT=127.0.0.1:$BPORT

# Topic name, then its retention. Jobs and replies are worth a week of
# replay; dead letters wait for an operator, so they are kept a month.
TOPICS=(
  "provisioning.jobs 604800000"
  "provisioning.queries 86400000"
  "provisioning.results 604800000"
  "provisioning.jobs.dlq 2592000000"
  "provisioning.queries.dlq 2592000000"
)

# classpath: the jars to run. Called in $(...), so it cannot stop the
# script: cmd_fetch validates KAFKA_HOME first.
classpath() {
  if [ -n "${KAFKA_HOME:-}" ]; then
    printf '%s\n' "$KAFKA_HOME/libs/*"
  else
    printf '%s\n' "$CACHE/libs/*"
  fi
}

cmd_fetch() {
  if [ -n "${KAFKA_HOME:-}" ]; then
    ls "$KAFKA_HOME"/libs/kafka_2.13-*.jar >/dev/null 2>&1 ||
      die "KAFKA_HOME=$KAFKA_HOME does not look like a Kafka distribution (no libs/kafka_2.13-*.jar)"
    return 0
  fi
  [ -f "$CACHE/.complete" ] && return 0
  command -v mvn >/dev/null ||
    die "Maven is not installed: run 'KAFKA=apache dev/deps.sh' (or set KAFKA_HOME=/path/to/kafka_2.13-3.9.x)"
  mkdir -p "$CACHE" "$LOGS"
  rm -rf "$CACHE/libs.tmp"
  local mvn_args=(-B -q -f "$HERE/kafka/pom.xml" dependency:copy-dependencies
    -DincludeScope=runtime -DoutputDirectory="$CACHE/libs.tmp")
  [ -n "${PV_MAVEN_REPO:-}" ] && mvn_args+=(-Dmaven.repo.local="$PV_MAVEN_REPO")
  local t0=$SECONDS
  # Offline first: Maven's local repository may hold every jar already.
  if mvn -o "${mvn_args[@]}" >"$LOGS/kafka-fetch.log" 2>&1; then
    rm -rf "$CACHE/libs"
    mv "$CACHE/libs.tmp" "$CACHE/libs"
    touch "$CACHE/.complete"
    say "Apache Kafka $KAFKA_VERSION copied from Maven's local repository into $CACHE in $((SECONDS - t0)) s"
    return 0
  fi
  rm -rf "$CACHE/libs.tmp"
  say "fetching Apache Kafka $KAFKA_VERSION through Maven Central into $CACHE (once)"
  if ! mvn "${mvn_args[@]}" >"$LOGS/kafka-fetch.log" 2>&1; then
    rm -rf "$CACHE/libs.tmp"
    # Maven words an unreachable repository many ways ("No plugin found for
    # prefix", "Could not transfer", "Unknown host"...): match the usual
    # ones for a precise line, and say the same fix either way. Never fall
    # back to kafka-mock: KAFKA=apache was asked for.
    if grep -qiE "could not (transfer|resolve)|no plugin found|unknownhost|unknown host|connection refused|network is unreachable|timed out" "$LOGS/kafka-fetch.log"; then
      die "cannot reach Maven Central to fetch Apache Kafka $KAFKA_VERSION (details: $LOGS/kafka-fetch.log); use a local distribution instead: KAFKA_HOME=/path/to/kafka_2.13-3.9.x KAFKA=apache make up"
    fi
    die "fetching Apache Kafka $KAFKA_VERSION through Maven failed: read $LOGS/kafka-fetch.log; or use a local distribution: KAFKA_HOME=/path/to/kafka_2.13-3.9.x KAFKA=apache make up"
  fi
  rm -rf "$CACHE/libs"
  mv "$CACHE/libs.tmp" "$CACHE/libs"
  touch "$CACHE/.complete"
  say "fetched Apache Kafka $KAFKA_VERSION in $((SECONDS - t0)) s"
}

kafka_pid() {
  pidfile_alive "$PIDFILE" "$KDIR/server.properties"
}

# kjava MAIN ARGS...: runs one of Kafka's command-line classes.
kjava() {
  local main=$1
  shift
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j.configuration="file:$KDIR/tools-log4j.properties" \
    -cp "$(classpath)" "$main" "$@"
}

write_config() {
  mkdir -p "$KDIR/data"
  cat >"$KDIR/server.properties" <<EOF
# generated by dev/kafka-apache.sh: single-node KRaft dev broker
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$BPORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$BPORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/data
num.partitions=$PARTITIONS
# Topics exist because we create them: a typo in a topic name must fail,
# not silently create a new topic.
auto.create.topics.enable=false
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
# Fewer __consumer_offsets partitions than the default 50: faster first
# start, plenty for a dev broker.
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
# No 3 s wait before the first rebalance of a new group: tests join fast.
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=67108864
EOF
  cat >"$KDIR/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$LOGS/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.controller=WARN
log4j.logger.org.apache.kafka.controller=WARN
EOF
  cat >"$KDIR/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

format_storage() {
  local id
  [ -f "$KDIR/data/meta.properties" ] && return 0
  id=$(kjava kafka.tools.StorageTool random-uuid 2>>"$LOGS/kafka.log") ||
    die "kafka-storage random-uuid failed: read $LOGS/kafka.log"
  say "formatting storage in $KDIR/data (cluster id $id)"
  kjava kafka.tools.StorageTool format -t "$id" -c "$KDIR/server.properties" \
    >>"$LOGS/kafka.log" 2>&1 || die "kafka-storage format failed: read $LOGS/kafka.log"
}

wait_ready() {
  local pid=$1 i
  for ((i = 0; i < START_TIMEOUT * 2; i++)); do
    running "$pid" || die "broker exited during start: read $LOGS/kafka.log"
    if kcat -b "$BOOT" -L -m 1 -q >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  die "broker not answering on $BOOT within ${START_TIMEOUT}s: read $LOGS/kafka.log"
}

existing_topics() {
  kcat -b "$BOOT" -L -m 5 2>/dev/null | sed -n 's/^  topic "\([^"]*\)".*/\1/p'
}

create_topics() {
  local have entry name retention pids=() p rc=0
  have=$(existing_topics)
  for entry in "${TOPICS[@]}"; do
    read -r name retention <<<"$entry"
    grep -qx -- "$name" <<<"$have" && continue
    # One JVM per topic (TopicCommand creates one at a time); in parallel,
    # since each spends most of its time starting up.
    kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOT" \
      --create --if-not-exists --topic "$name" --partitions "$PARTITIONS" \
      --replication-factor 1 --config "retention.ms=$retention" \
      >>"$LOGS/kafka-topics.log" 2>&1 &
    pids+=("$!")
  done
  for p in "${pids[@]}"; do
    wait "$p" || rc=1
  done
  [ "$rc" = 0 ] || die "creating topics failed: read $LOGS/kafka-topics.log"
  [ "${#pids[@]}" -eq 0 ] || say "created ${#pids[@]} topic(s) with $PARTITIONS partitions"
}

cmd_start() {
  local pid t0
  mkdir -p "$KDIR" "$RUN" "$LOGS"
  command -v java >/dev/null ||
    die "no java: run 'KAFKA=apache dev/deps.sh' to install a JRE"
  command -v kcat >/dev/null || die "no kcat: run 'dev/deps.sh'"
  if pid=$(kafka_pid); then
    say "already running (pid $pid, $BOOT)"
    create_topics
    printf '%s\n' "$BOOT"
    return 0
  fi
  for p in "$BPORT" "$CPORT"; do
    if port_busy "$p"; then
      die "port $p (Apache Kafka) is already in use by another program: pick another range with PV_PORT_BASE=$((BASE + 200)) KAFKA=apache make up"
    fi
  done
  cmd_fetch
  write_config
  format_storage
  t0=$(date +%s%N)
  # shellcheck disable=SC2086 # HEAP holds several JVM options on purpose
  start_bg "$PIDFILE" "$LOGS/kafka.log" "$RUN/kafka.out" \
    java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOGS" -Dlog4j.configuration="file:$KDIR/log4j.properties" \
    -cp "$(classpath)" kafka.Kafka "$KDIR/server.properties"
  pid=$(cat "$PIDFILE")
  wait_ready "$pid"
  say "broker answering on $BOOT after $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $pid)"
  create_topics
  say "running (pid $pid, $BOOT, RSS $(( $(ps -o rss= -p "$pid") / 1024 )) MiB, data $KDIR/data)"
  printf '%s\n' "$BOOT"
}

cmd_stop() {
  local pid
  if pid=$(kafka_pid); then
    stop_pid "apache kafka" "$pid" 30 || true
    say "stopped"
  fi
  rm -f "$PIDFILE"
}

cmd_status() {
  local pid
  if pid=$(kafka_pid); then
    echo "apache-kafka    running  pid $pid  $BOOT  RSS $(( $(ps -o rss= -p "$pid") / 1024 )) MiB  log $LOGS/kafka.log"
  else
    echo "apache-kafka    stopped"
  fi
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  running) kafka_pid >/dev/null ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
