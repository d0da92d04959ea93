#!/usr/bin/env bash
# Prints the name of a PostgreSQL tablespace in RAM for the test databases, making it first if need be;
# prints nothing (and the tests use the server's own disk) where that cannot be done here.
#
# Why: every PostgreSQL test copies a migrated template (CREATE DATABASE ... TEMPLATE) and drops it after.
# The copy opens and creates about 2,400 files; on this machine kind's data disk an open costs 175-400 us,
# so a copy took 0.5 s, on /dev/shm 0.03 s. Only the test databases move: the server's WAL stays on disk,
# and nothing the tests assert depends on where the files lie.
#
# It needs the server on this host, a superuser role and the right to give a folder to the server's
# user (root, or that user itself). A tablespace whose folder is gone (after a restart, /dev/shm is
# emptied) is dropped with the test databases in it, then made again.
set -euo pipefail

NAME=riverchief_test_ram
FOLDER=${RIVERCHIEF_TEST_TABLESPACE_DIR:-/dev/shm/riverchief-pg-test}
PSQL=(psql -h 127.0.0.1 -p 5432 -U "${PGUSER:-root}" -d postgres -X -A -t -q -v ON_ERROR_STOP=1)

"${PSQL[@]}" -c "SELECT 1" >/dev/null 2>&1 || exit 0
[ "$("${PSQL[@]}" -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" = "t" ] || exit 0
server_user=$(ps -o user= -C postgres 2>/dev/null | head -n1 || true)
[ -n "$server_user" ] && [ -d /dev/shm ] || exit 0

location=$("${PSQL[@]}" -c "SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = '$NAME'")
if [ -n "$location" ] && ! ls -d "$location"/PG_* >/dev/null 2>&1; then
  # Left from before a restart: its databases' files are gone with the folder.
  for db in $("${PSQL[@]}" -c "SELECT datname FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace
                                 WHERE t.spcname = '$NAME'"); do
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  done
  "${PSQL[@]}" -c "DROP TABLESPACE $NAME" >/dev/null
  location=""
fi
if [ -z "$location" ]; then
  mkdir -p "$FOLDER" 2>/dev/null || exit 0
  if [ "$(id -un)" != "$server_user" ]; then
    chown "$server_user" "$FOLDER" 2>/dev/null || exit 0
  fi
  chmod 700 "$FOLDER"
  "${PSQL[@]}" -c "CREATE TABLESPACE $NAME LOCATION '$FOLDER'" >/dev/null 2>&1 || exit 0
fi
echo "$NAME"
