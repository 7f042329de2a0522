#!/bin/sh
# Start PostgreSQL as the official image does, in miniature: on first start make the cluster with
# the superuser's password, run /docker-entrypoint-initdb.d/*.sql against a server that listens on
# its socket only (so a health check over TCP cannot see it before it is set up), then serve on
# every address.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password_file=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}" > "$password_file"
    initdb --username=postgres --pwfile="$password_file" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl --wait --silent -o "-c listen_addresses=''" start
    for script in /docker-entrypoint-initdb.d/*.sql; do
        [ -e "$script" ] || continue
        echo "running $script"
        psql --no-psqlrc --set ON_ERROR_STOP=1 --username=postgres --file="$script"
    done
    pg_ctl --wait --silent -m fast stop
fi
exec postgres -c listen_addresses='*'
