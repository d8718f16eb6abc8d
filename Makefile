# mojob: PGXS build, plus the two commands of the README (make demo, make test).

EXTENSION    = mojob
EXTVERSION   = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" mojob.control)
MODULE_big   = mojob
OBJS         = src/mojob.o src/state_graph.o src/guard.o src/history.o \
               src/jobs.o src/args.o src/job_code.o src/booking.o src/nodes.o src/scheduler.o src/recurrence.o \
               src/verify.o
DATA         = $(wildcard sql/mojob--*.sql)
SHLIB_LINK   = -lical

# Isolation specs: their sources live in test/specs (test/specs/README.md),
# their expected output in test/expected.  scripts/gen-specs.pl writes the
# specs pg_isolation_regress runs into test/build/specs (one per source and
# isolation level); test/build/expected is test/expected.  The rules are at
# the end of this file.
ISOLATION      = $(shell perl scripts/gen-specs.pl --list test/specs)
ISOLATION_OPTS = --inputdir=test/build --load-extension=btree_gist --load-extension=mojob
# PGXS's clean removes these only if they are set before it is included.
EXTRA_CLEAN    = output_iso tmp_check test/build

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Every object depends on the headers (PGXS tracks no dependencies by itself):
# a changed struct must not leave an object built against the old one.
$(OBJS): $(wildcard src/*.h)

# The warnings CI builds with; a warning fails the build.
WERROR_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter

.PHONY: deps test test-versions demo demo-stop bench bench-compare timeline-png

# Install what is missing (Debian packages), as root or through sudo.
deps:
	scripts/deps.sh

# Build with warnings as errors, install, run every suite on throwaway clusters.
test: deps
	$(MAKE) check-docs
	$(MAKE) clean
	$(MAKE) PG_CFLAGS='$(WERROR_CFLAGS)'
	@# An extension links with its PostgreSQL symbols unresolved; one of ours must not be.
	@! nm -D --undefined-only mojob.so | grep ' mojob_' || { echo "mojob.so uses mojob symbols it does not define"; exit 1; }
	scripts/as-root.sh $(MAKE) install
	scripts/test.sh

# Nothing cites a document outside the tree; docs/design.md matches src/.
.PHONY: check-docs
check-docs:
	perl scripts/check-docs.pl

# PostgreSQL 15, 17 and 18: build with -Werror and run the suites on each
# (minutes, and it fetches 17 and 18 once into a cache: not part of make test).
test-versions: deps
	scripts/test-versions.sh

# A throwaway server with mojob and a small broadcast facility.
demo: deps
	$(MAKE)
	scripts/as-root.sh $(MAKE) install
	scripts/demo.sh start

demo-stop:
	scripts/demo.sh stop

# docs/timeline.png, the README's picture: the demo's SVG rendered by headless Chromium.
timeline-png:
	scripts/render-timeline.sh

bench: deps
	$(MAKE)
	scripts/as-root.sh $(MAKE) install
	bench/run.sh

# Two versions benchmarked against each other, interleaved, each built into a
# private copy of PostgreSQL (nothing is installed on the machine):
#   make bench-compare BASE=<rev> [HEAD=<rev>]   (HEAD: the working tree by default)
bench-compare: deps
	BASE='$(BASE)' HEAD='$(HEAD)' bench/compare.sh

# ---- isolation specs: generated before installcheck ----
SPEC_SOURCES = $(wildcard test/specs/*.spec test/specs/include/*)

test/build/specs.stamp: $(SPEC_SOURCES) scripts/gen-specs.pl
	perl scripts/gen-specs.pl test/specs test/build
	ln -sfn ../expected test/build/expected
	touch $@

installcheck: test/build/specs.stamp
# ---- end of isolation specs ----
