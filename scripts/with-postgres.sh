#!/usr/bin/env bash
# Runs a command with STENT_PG set: a throwaway PostgreSQL on loopback (installing the server with apt when
# its binaries are missing), stopped when the command ends; or the connection string already in STENT_PG.
# With the throwaway server, STENT_PG_RESTART holds a command that restarts it (for the restart test).
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail

start_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL binaries not found; installing them with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  PG_TMP=$(mktemp -d /tmp/stent-pg.XXXXXX)
  local as=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_TMP"
    as=(runuser -u postgres --)
  fi
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
  "${as[@]}" "$bin/initdb" -D "$PG_TMP/data" -A trust --no-sync -U postgres >/dev/null
  # fsync off in the configuration file, not on the command line, so the benchmark can turn it on (ALTER SYSTEM).
  echo "fsync = off" >>"$PG_TMP/data/postgresql.conf"
  "${as[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP -c max_connections=200" >/dev/null
  PG_STOP=("${as[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop)
  trap 'status=$?; "${PG_STOP[@]}" >/dev/null 2>&1 || true; rm -rf "$PG_TMP"; exit $status' EXIT
  "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres stent_test
  export STENT_PG="Host=127.0.0.1;Port=$port;Username=postgres;Database=stent_test"
  # Lets a test restart the server mid-run (it comes back with the same options, on the same port).
  export STENT_PG_RESTART="${as[*]} $bin/pg_ctl -D $PG_TMP/data -l $PG_TMP/log -m fast -w restart"
  echo "PostgreSQL started on 127.0.0.1:$port" >&2
}

[ -n "${STENT_PG:-}" ] || start_postgres
"$@"
