#!/usr/bin/env bash
# Stops the throwaway cluster started by scripts/pg-start.sh (same PGROOT) and removes its files.
set -euo pipefail
PGROOT=${PGROOT:-/tmp/shiioo-pg}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$PGBIN" ] && [ -f "$PGROOT/data/postmaster.pid" ]; then
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null
  else
    "$PGBIN/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null
  fi
fi
rm -rf "$PGROOT"
