#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster under $PGROOT (default /tmp/shiioo-pg) on 127.0.0.1:$PGPORT (default 54329)
# and prints its URL. Fast and non-durable by default (for tests); pass --durable or set PGDURABLE=1 for
# fsync=on and synchronous_commit=on (for benchmarks). Any cluster already at $PGROOT is stopped and wiped first.
set -euo pipefail
PGROOT=${PGROOT:-/tmp/shiioo-pg}; PGPORT=${PGPORT:-54329}; PGDURABLE=${PGDURABLE:-0}
[ "${1:-}" = --durable ] && PGDURABLE=1
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PGBIN" ]; then
  [ "$(id -u)" = 0 ] || { echo 'pg-start: PostgreSQL is not installed (apt-get install postgresql)' >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
# The postgres binaries refuse to run as root, so as root they run as the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -f "$PGROOT/data/postmaster.pid" ]; then as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -m immediate -w stop >/dev/null || true; fi
rm -rf "$PGROOT"; mkdir -p "$PGROOT"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PGROOT"
if [ "$PGDURABLE" = 1 ]; then
  settings='-c fsync=on -c synchronous_commit=on'
else
  settings='-c fsync=off -c synchronous_commit=off -c full_page_writes=off'
fi
as_pg "$PGBIN/initdb" -D "$PGROOT/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/log" -w \
  -o "-p $PGPORT -k $PGROOT -c listen_addresses=127.0.0.1 $settings" start >/dev/null || { tail -5 "$PGROOT/log" >&2; exit 1; }
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres app
echo "postgres://postgres@127.0.0.1:$PGPORT/app"
