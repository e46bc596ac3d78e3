# Shared by scripts/up, scripts/down and scripts/test. Sourced, not run.
# Every process started here is recorded by PID in a run folder and stopped
# by that PID: never by name, so nothing else on the machine is touched.

KNOT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KNOT_SERVICES=(identity users launcher files edge)

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs Debian packages that are missing (by the command they provide).
ensure_packages() {
  local missing=()
  [ -n "$(pg_bindir 2>/dev/null)" ] || missing+=(postgresql)
  command -v curl >/dev/null || missing+=(curl)
  command -v python3 >/dev/null || missing+=(python3)
  command -v openssl >/dev/null || missing+=(openssl)
  # The edge compresses the dashboard's files with zlib (compress-nio links it).
  [ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
  # Issue 11: the images tests push to a real Registry v2 server (distribution).
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  if [ "${KNOT_NEED_BROWSER:-}" = 1 ]; then
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
    command -v certutil >/dev/null || missing+=(libnss3-tools)
  fi
  if [ "${KNOT_NEED_KUBECTL:-}" = 1 ]; then
    # Debian ships kubectl as kubernetes-client; some images carry a newer kubectl already.
    command -v kubectl >/dev/null || missing+=(kubernetes-client)
  fi
  if [ "${KNOT_NEED_WRK:-}" = 1 ]; then
    command -v wrk >/dev/null || missing+=(wrk)
  fi
  if [ "${KNOT_NEED_SSLSCAN:-}" = 1 ]; then
    command -v sslscan >/dev/null || missing+=(sslscan)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

pg_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null && { dirname "$(readlink -f "$(command -v initdb)")"; return 0; }
  return 1
}

# PostgreSQL refuses to run as root; when we are root it runs as "postgres".
pg_user_run() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || as_root useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_start DATA_DIR PORT PASSWORD: creates the cluster once (user "knot"), starts it on loopback.
pg_start() {
  local data="$1" port="$2" password="$3" bin
  bin="$(pg_bindir)" || die "PostgreSQL is not installed"
  mkdir -p "$data"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$data"; fi
  chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    local pwfile; pwfile="$(mktemp)"
    printf '%s\n' "$password" >"$pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$pwfile"; fi
    pg_user_run "$bin/initdb" -D "$data" -U knot --pwfile="$pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null \
      || { rm -f "$pwfile"; die "initdb failed"; }
    rm -f "$pwfile"
  fi
  if pg_user_run "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then return 0; fi
  pg_user_run "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='' -c max_connections=200 -c fsync=${KNOT_PG_FSYNC:-off}" start >/dev/null \
    || { tail -20 "$data/server.log" >&2; die "PostgreSQL did not start"; }
  PGPASSWORD="$password" "$bin/psql" -h 127.0.0.1 -p "$port" -U knot -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='knot'" | grep -q 1 \
    || PGPASSWORD="$password" "$bin/psql" -h 127.0.0.1 -p "$port" -U knot -d postgres -qc "CREATE DATABASE knot" >/dev/null
}

pg_stop() {
  local data="$1" bin
  bin="$(pg_bindir)" || return 0
  [ -f "$data/postmaster.pid" ] || return 0
  pg_user_run "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

random_secret() { head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 48; }

# Writes the environment every service reads into RUN/env (sourced by start_services).
write_env() {
  local run="$1" data="$2" base_port="$3" https_port="$4" http_port="$5" pg_port="$6" pg_password="$7" bin="$8"
  cat >"$run/env" <<ENV
export KNOT_DATA_DIR='$data'
export KNOT_FILES_ROOT='$data/files'
export KNOT_DB_HOST=127.0.0.1
export KNOT_DB_PORT=$pg_port
export KNOT_DB_USER=knot
export KNOT_DB_PASSWORD='$pg_password'
export KNOT_DB_NAME=knot
export KNOT_INTERNAL_SECRET_FILE='$data/internal-secret'
export KNOT_DOMAIN=knot.localhost
export KNOT_PUBLIC_PORT=$https_port
export KNOT_EDGE_HTTPS_PORT=$https_port
export KNOT_EDGE_HTTP_PORT=$http_port
export KNOT_WEB_ROOT='$KNOT_ROOT/Web'
export KNOT_IDENTITY_URL=http://127.0.0.1:$(service_port "$base_port" identity)
export KNOT_USERS_URL=http://127.0.0.1:$(service_port "$base_port" users)
export KNOT_LAUNCHER_URL=http://127.0.0.1:$(service_port "$base_port" launcher)
export KNOT_FILES_URL=http://127.0.0.1:$(service_port "$base_port" files)
export KNOT_EDGE_OPS_PORT=$(service_port "$base_port" edge)
export KNOT_BASE_PORT=$base_port
export KNOT_BIN='$bin'
ENV
}

service_port() {
  local base="$1" name="$2"
  case "$name" in
    identity) echo $((base + 1)) ;; users) echo $((base + 2)) ;; launcher) echo $((base + 3)) ;;
    files) echo $((base + 4)) ;; edge) echo $((base + 5)) ;;
  esac
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_services RUN: starts each service not already running, logs in RUN/logs.
start_services() {
  local run="$1" name port
  # shellcheck disable=SC1091
  . "$run/env"
  mkdir -p "$run/logs" "$run/pids"
  for name in "${KNOT_SERVICES[@]}"; do
    pid_alive "$run/pids/$name.pid" && continue
    port="$(service_port "$KNOT_BASE_PORT" "$name")"
    ( cd "$KNOT_ROOT" && KNOT_PORT="$port" exec "$KNOT_BIN/knot-$name" ) >>"$run/logs/$name.log" 2>&1 &
    echo $! >"$run/pids/$name.pid"
  done
}

# wait_ready RUN SECONDS: until every service's /readyz answers 200.
wait_ready() {
  local run="$1" limit="${2:-120}" name port deadline
  # shellcheck disable=SC1091
  . "$run/env"
  deadline=$((SECONDS + limit))
  for name in "${KNOT_SERVICES[@]}"; do
    port="$(service_port "$KNOT_BASE_PORT" "$name")"
    until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do
      pid_alive "$run/pids/$name.pid" || { tail -30 "$run/logs/$name.log" >&2; die "knot-$name exited during start-up"; }
      [ $SECONDS -lt $deadline ] || { tail -30 "$run/logs/$name.log" >&2; die "knot-$name not ready after ${limit}s"; }
      sleep 0.3
    done
  done
}

# stop_services RUN: SIGTERM each recorded PID, then SIGKILL what lingers.
stop_services() {
  local run="$1" name pid i
  for name in edge launcher files users identity; do
    [ -f "$run/pids/$name.pid" ] || continue
    pid="$(cat "$run/pids/$name.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$run/pids/$name.pid"
  done
}
