#!/usr/bin/env bash
# Throwaway PostgreSQL clusters owned by the postgres OS user (initdb refuses root).
#
#   pgcluster.sh start DIR [postgres -c options...]   create (if new) and start a cluster in DIR
#   pgcluster.sh stop DIR                             stop it (the files stay)
#   pgcluster.sh destroy DIR                          stop it and remove DIR
#
# The server listens only on a Unix socket in DIR, port $PGPORT (default 5439),
# so clusters never clash with each other or with a system server.
# Clients run as the calling user: psql -h DIR -p PORT -U postgres.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bindir=$(pg_config --bindir)
port=${PGPORT:-5439}

as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"
    elif [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"
    else sudo -u postgres "$@"
    fi
}

cmd=$1 dir=$2
shift 2
case $cmd in
start)
    if [ ! -d "$dir/data" ]; then
        "$here/as-root.sh" install -d -o postgres -g postgres -m 755 "$dir"
        as_postgres "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
            --no-sync -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
            { cat "$dir.initdb.log" >&2; exit 1; }
        rm -f "$dir.initdb.log"
        {
            echo "listen_addresses = ''"
            echo "unix_socket_directories = '$dir'"
            echo "port = $port"
            echo "fsync = off"
            echo "max_prepared_transactions = 10"
            for opt in "$@"; do echo "$opt"; done
        } | as_postgres tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    ;;
stop)
    [ -d "$dir/data" ] && as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
destroy)
    [ -d "$dir/data" ] && as_postgres "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    "$here/as-root.sh" rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop|destroy DIR [options]" >&2; exit 2 ;;
esac
