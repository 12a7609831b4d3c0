#!/usr/bin/env bash
# Runs a command against a PostgreSQL server of its own: a fresh cluster in a
# temporary directory (Debian's postgresql package: initdb, pg_ctl), listening
# only on a Unix socket in that directory, stopped and removed afterwards.
# The command sees KURA_TEST_DB_URL (a libpq connection string prefixed with
# "postgres:"). initdb refuses to run as root, so as root the cluster runs as
# the unprivileged user `postgres` (made by the package).
#
#   tests/server/with-postgres.sh COMMAND [ARGS...]
# Exits with the command's status; 77 (skipped) when no PostgreSQL is installed.
set -euo pipefail

bindir=${KURA_PG_BINDIR:-}
if [ -z "$bindir" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "SKIPPED: no PostgreSQL server installed (Debian package postgresql)"
  exit 77
fi

dir=$(mktemp -d /tmp/kura-pg.XXXXXX)
chmod 755 "$dir"
as_db=()
dbuser=$(id -un)
if [ "$(id -u)" = 0 ]; then
  dbuser=postgres
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
  as_db=(runuser -u postgres --)
fi

cleanup() {
  "${as_db[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_db[@]}" "$bindir/initdb" -D "$dir/data" -U "$dbuser" --auth=trust -E UTF8 --no-locale \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
"${as_db[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=on -c max_connections=200" \
  start >/dev/null || { cat "$dir/server.log"; exit 1; }
"${as_db[@]}" "$bindir/createdb" -h "$dir" -U "$dbuser" kura

export KURA_TEST_DB_URL="postgres:host=$dir dbname=kura user=$dbuser"
export KURA_TEST_PG_DIR="$dir"
set +e
"$@"
status=$?
set -e
exit $status
