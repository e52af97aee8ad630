# shellcheck shell=bash
# dev/lib.sh: shell helpers shared by stack.sh and kafka-apache.sh.
# Sourced, never run. Every function is small and says what it returns.

# say/warn/die: one line each, prefixed with the component, on stderr for
# problems so that `make up >/dev/null` still shows them.
say()  { printf '%s\n' "stack: $*"; }
warn() { printf '%s\n' "stack: warning: $*" >&2; }
die()  { printf '%s\n' "stack: error: $*" >&2; exit 1; }

# abspath PATH: absolute form of PATH (which need not exist yet).
abspath() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$PWD/$1" ;;
  esac
}

# port_busy PORT: true if something accepts TCP connections on
# 127.0.0.1:PORT. A connect test sees exactly what a client would; no ss or
# netstat needed.
port_busy() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# running PID: true if PID exists and is not a zombie (a zombie answers
# kill -0 until its parent reaps it, which may be never in a container
# whose init does not reap).
running() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null || true)
  [ "$st" != Z ]
}

# pid_alive PID [PATTERN]: true if PID runs and (when given) its command
# line contains PATTERN. The pattern guards against a recycled pid: after a
# reboot or a long time, the pid in a stale pid file may belong to anything.
pid_alive() {
  local pid=$1 pattern=${2:-}
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  running "$pid" || return 1
  [ -z "$pattern" ] && return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# pidfile_alive FILE PATTERN: true if FILE names a live process matching
# PATTERN; prints the pid.
pidfile_alive() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(head -n1 "$1" 2>/dev/null || true)
  pid_alive "$pid" "$2" || return 1
  printf '%s\n' "$pid"
}

# stop_pid NAME PID [GRACE_S]: SIGTERM, wait up to GRACE_S (default 10) s,
# then SIGKILL. Returns 0 once the process is gone.
stop_pid() {
  local name=$1 pid=$2 grace=${3:-10} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    running "$pid" || return 0
    sleep 0.1
  done
  warn "$name (pid $pid) ignored SIGTERM for ${grace}s: sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    running "$pid" || return 0
    sleep 0.1
  done
  warn "$name (pid $pid) is still there after SIGKILL"
  return 1
}

# wait_for_line FILE LINE TIMEOUT_S PID: waits until FILE holds a line
# exactly LINE while PID lives. Returns 0 when seen, 1 if PID died, 2 on
# timeout.
wait_for_line() {
  local file=$1 line=$2 timeout=$3 pid=$4 i
  for ((i = 0; i < timeout * 10; i++)); do
    if [ -f "$file" ] && grep -qx -- "$line" "$file"; then
      return 0
    fi
    running "$pid" || return 1
    sleep 0.1
  done
  return 2
}

# start_bg PIDFILE LOG OUT CMD...: starts CMD in its own session (so a
# Ctrl-C in the terminal that ran `make up` does not reach it), stdout to
# OUT, stderr to LOG, and writes its pid to PIDFILE.
start_bg() {
  local pidfile=$1 log=$2 out=$3
  shift 3
  : >"$out"
  # In a non-interactive shell a background job is not a process group
  # leader, so setsid(1) calls setsid() itself instead of forking: $! is the
  # program's own pid.
  # 9>&-: fd 9 holds stack.sh's flock; a long-lived child must not keep
  # it, or the next stack.sh would wait for the lock until the child exits.
  setsid "$@" </dev/null >"$out" 2>>"$log" 9>&- &
  printf '%s\n' "$!" >"$pidfile"
}

# random_alnum N: N random characters of [A-Za-z0-9].
random_alnum() {
  local n=$1 s=""
  while [ "${#s}" -lt "$n" ]; do
    s+=$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9')
  done
  printf '%s\n' "${s:0:n}"
}

# random_hex N: N random lowercase hex characters (N even).
random_hex() {
  head -c "$(($1 / 2))" /dev/urandom | od -An -v -tx1 | tr -d ' \n'
  printf '\n'
}

# write_atomic FILE MODE: writes stdin to FILE through a temporary file in
# the same directory, so a reader never sees half a file.
write_atomic() {
  local file=$1 mode=$2 tmp
  tmp=$(mktemp "$file.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$file"
}
