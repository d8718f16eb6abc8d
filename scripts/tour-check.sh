#!/usr/bin/env bash
# Run the psql tour of README.md in a new database and check that exactly the
# statements marked "-- refused (SQLSTATE)" are refused, with those SQLSTATEs.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bindir=$(pg_config --bindir)
db=mojob_tour
tour=$(mktemp) out=$(mktemp)
trap 'rm -f "$tour" "$out"' EXIT

sed -n '/<!-- tour:begin -->/,/<!-- tour:end -->/p' "$top/README.md" | grep -v '^<!--' | grep -v '^```' >"$tour"
expected=$(grep -o -- '-- refused ([A-Z0-9]*)' "$tour" | sed 's/.*(\(.*\))/\1/' | tr '\n' ' ')

"$bindir/dropdb" -q --if-exists "$db" 2>/dev/null; "$bindir/createdb" "$db" || exit 1
{ echo '\set VERBOSITY sqlstate'; cat "$tour"; } |
    "$bindir/psql" -X -q -d "$db" -v ON_ERROR_STOP=0 >/dev/null 2>"$out"
got=$(grep -o 'ERROR:  [A-Z0-9]*' "$out" | sed 's/ERROR:  //' | tr '\n' ' ')
"$bindir/dropdb" "$db"

if [ "$got" != "$expected" ]; then
    echo "README tour: expected refusals [$expected], got [$got]"
    cat "$out"
    exit 1
fi
echo "README tour: ok ($(grep -c . "$tour") lines; refusals as marked: $expected)"
