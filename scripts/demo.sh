#!/usr/bin/env bash
# make demo / make demo-stop: a throwaway server with mojob and a small broadcast facility.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
dir=${MOJOB_DEMO_DIR:-/tmp/mojob-demo}
export PGPORT=${MOJOB_DEMO_PORT:-5440}
bindir=$(pg_config --bindir)

case ${1:-start} in
start)
    scripts/pgcluster.sh destroy "$dir"
    scripts/pgcluster.sh start "$dir" "shared_preload_libraries = 'mojob'" "mojob.database = 'mojob'"
    export PGHOST=$dir PGUSER=postgres
    "$bindir/createdb" mojob
    "$bindir/psql" -X -q -d mojob -f demo/facility.sql >/dev/null
    "$bindir/psql" -X -q -d mojob -v svg="$dir/timeline.svg" -f demo/show.sql
    cat <<MSG

mojob demo is running (PostgreSQL $("$bindir/postgres" --version | awk '{print $3}'), scheduler library preloaded).
  connect:  psql -h $dir -p $PGPORT -U postgres mojob
  picture:  $dir/timeline.svg (the timeline as SVG; open it in a browser)
  stop:     make demo-stop
MSG
    ;;
stop)
    scripts/pgcluster.sh destroy "$dir"
    echo "mojob demo stopped and removed."
    ;;
esac
