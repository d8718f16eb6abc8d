# Upgrades (docs/design.md section 8, "Versioned scripts"): 1.0 shipped as
# sql/mojob--1.0.sql; ALTER EXTENSION mojob UPDATE, through the upgrade
# scripts sql/mojob--X--Y.sql, keeps all data.
#
# The versions are discovered from the installed extension
# (pg_available_extension_versions).  For every version older than the
# default one, and for the default one itself (where the update is a
# no-op):
#   - CREATE EXTENSION mojob VERSION 'x' in a new database;
#   - fill it through the 1.0 functions: jobs in every state, plain and
#     pool nodes, a swapped resource on a running job, a recurrence with a
#     RECURRENCE_CONFLICT draft, a deleted job's history, changed settings;
#   - ALTER EXTENSION mojob UPDATE: it succeeds and installs the default
#     version (for an older version, pg_extension_update_paths has a path);
#   - every table of schema mojob is unchanged row for row (mojob.booking
#     and mojob.settings too), and so are the sequences and each job's
#     errors;
#   - the extension's objects are those of a fresh CREATE EXTENSION of the
#     default version: members, columns, constraints, indexes, triggers,
#     function and view definitions, comments, and the tables pg_dump
#     saves (pg_extension_config_dump);
#   - the life cycle is still enforced: an illegal transition (MJ001) and
#     a conflicting reservation (MJ005) are refused, a new job gets a new
#     id and code.
#
# 1.0 has shipped and 1.1 is the default: the 1.0 -> 1.1 path
# (sql/mojob--1.0--1.1.sql) must be among the paths tested, so that a
# missing upgrade script fails here instead of being skipped.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use MojobInvariants;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "log_min_error_statement = panic\n");
$node->start;

sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db, $query);
}

# The SQLSTATE a script fails with, or 'ok'.
sub sqlstate
{
	my ($db, $query) = @_;
	my ($ret, $out, $err) = $node->psql($db, $query,
		extra_params => [ '-v', 'VERBOSITY=sqlstate', '-v', 'ON_ERROR_STOP=1' ]);
	return $1 if $err =~ /ERROR:\s+([0-9A-Z]{5})/;
	return $ret == 0 ? 'ok' : "exit $ret: $err";
}

# Compare version strings such as 1.0, 1.2, 1.10 part by part.
sub vcmp
{
	my ($x, $y) = @_;
	my @x = split /\./, $x;
	my @y = split /\./, $y;
	while (@x || @y)
	{
		my ($p, $q) = (shift(@x) // 0, shift(@y) // 0);
		my $c = ($p =~ /^\d+$/ && $q =~ /^\d+$/) ? $p <=> $q : $p cmp $q;
		return $c if $c;
	}
	return 0;
}

# ---------------------------------------------------------------------
# The versions installed
# ---------------------------------------------------------------------

my @versions = sort { vcmp($a, $b) } split /\n/,
  sql('postgres', q{SELECT version FROM pg_available_extension_versions WHERE name = 'mojob'});
my $default = sql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'mojob'});
my @older = grep { vcmp($_, $default) < 0 } @versions;
note("mojob versions installed: @versions; default $default");
ok((grep { $_ eq $default } @versions), "the default version $default is installed");

ok((grep { $_ eq '1.0' } @older), "1.0, the shipped version, is older than the default $default and its upgrade is tested");
ok(sql('postgres', qq{SELECT count(*) FROM pg_extension_update_paths('mojob') WHERE source = '1.0' AND target = '$default' AND path IS NOT NULL}) == 1,
	"an update path leads from 1.0 to $default");
note('upgrade paths tested: ' . join(', ', map { "$_ -> $default" } @older));

# ---------------------------------------------------------------------
# What is compared
# ---------------------------------------------------------------------

# The extension's objects, described: what an upgrade must leave exactly
# as a fresh install of the default version makes them.
my $objects_sql = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'mojob'),
members AS (SELECT classid, objid, objsubid FROM pg_depend, ext
            WHERE refclassid = 'pg_extension'::regclass AND refobjid = ext.oid AND deptype = 'e'),
lines AS (
    SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS line FROM members
    UNION ALL
    SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind IN ('r', 'p', 'v')
      AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'mojob'::regnamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'mojob'::regnamespace
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = 'mojob'::regnamespace AND NOT t.tgisinternal
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid))
    FROM pg_proc p WHERE p.pronamespace = 'mojob'::regnamespace AND p.prokind IN ('f', 'p')
    UNION ALL
    SELECT 'view ' || c.oid::regclass || ' ' || md5(pg_get_viewdef(c.oid))
    FROM pg_class c WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind = 'v'
    UNION ALL
    SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
    FROM pg_description d
    WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM members)
    UNION ALL
    SELECT 'dumped ' || u.t::regclass || coalesce(' where ' || nullif(u.cond, ''), '')
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(t, cond) WHERE e.extname = 'mojob')
SELECT string_agg(line, E'\n' ORDER BY line) FROM lines};

# The columns of each table of schema mojob, in order.
sub columns
{
	my ($db) = @_;
	return { map { split /\|/ } split /\n/, sql($db, q{
		SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind IN ('r', 'p')
		  AND a.attnum > 0 AND NOT a.attisdropped
		GROUP BY c.relname}) };
}

# Each table's rows (the columns given: those it had before the update, so
# that a column an update adds does not count as a change), as text,
# sorted; the sequences; each job's errors.
sub snapshot
{
	my ($db, $columns) = @_;
	my %s;
	for my $t (sort keys %$columns)
	{
		$s{$t} = sql($db,
			    "SELECT count(*) || E'\\n' || coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') "
			  . "FROM (SELECT $columns->{$t} FROM mojob.$t) x");
	}
	$s{'(sequences)'} = sql($db, q{
		SELECT string_agg(sequencename || ' ' || coalesce(last_value::text, 'not called'), E'\n' ORDER BY sequencename)
		FROM pg_sequences WHERE schemaname = 'mojob'});
	$s{'(errors)'} = sql($db, q{SELECT string_agg(id || ' ' || errors::text, E'\n' ORDER BY id) FROM mojob.job_search});
	return \%s;
}

sql('postgres', 'CREATE DATABASE fresh');
sql('fresh', 'CREATE EXTENSION mojob CASCADE');
my $fresh_objects = sql('fresh', $objects_sql);

# Data through the functions of 1.0, which every later version keeps.
my $fill = <<'SQL';
UPDATE mojob.settings SET job_code_pattern = 'UP-{seq:5}', default_pre_roll = '10 minutes',
       default_post_roll = '5 minutes', lock_timeout = '1 hour';
INSERT INTO mojob.resource (name, concurrency, capacity, capabilities) VALUES
  ('Studio', 1, NULL, '{}'), ('Camera 1', 1, NULL, '{uhd}'), ('Camera 2', 1, NULL, '{uhd}'),
  ('Camera 3', 1, NULL, '{}'), ('Uplink', 2, 10, '{}'), ('Spare encoder', 1, NULL, '{}');
INSERT INTO mojob.pool (name) VALUES ('Cameras');
INSERT INTO mojob.pool_member SELECT p.id, r.id FROM mojob.pool p, mojob.resource r WHERE r.name LIKE 'Camera %';
CREATE FUNCTION pg_temp.r(text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM mojob.resource WHERE name = $1 $$;
CREATE FUNCTION pg_temp.j(text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = $1 $$;

SELECT code FROM mojob.create_job('Draft', date_trunc('hour', now()) + interval '4 days',
  date_trunc('hour', now()) + interval '4 days 1 hour', resources => ARRAY[pg_temp.r('Spare encoder')]);
SELECT id FROM mojob.add_pool_node(pg_temp.j('Draft'), (SELECT id FROM mojob.pool), 'wide', '{uhd}');
UPDATE mojob.resource SET enabled = false WHERE name = 'Spare encoder';
SELECT code FROM mojob.create_job('Tentative', date_trunc('hour', now()) + interval '1 day',
  date_trunc('hour', now()) + interval '1 day 2 hours', state => 'tentative', resources => ARRAY[pg_temp.r('Studio')]);
SELECT id FROM mojob.add_resource(pg_temp.j('Tentative'), pg_temp.r('Uplink'), 6);
SELECT code FROM mojob.create_job('Confirmed', date_trunc('hour', now()) + interval '1 day 1 hour',
  date_trunc('hour', now()) + interval '1 day 3 hours', state => 'tentative');
SELECT id FROM mojob.add_pool_node(pg_temp.j('Confirmed'), (SELECT id FROM mojob.pool), 'main', '{uhd}');
SELECT id FROM mojob.assign_node((SELECT id FROM mojob.job_resource WHERE alias = 'main'), pg_temp.r('Camera 1'));
SELECT id FROM mojob.add_resource(pg_temp.j('Confirmed'), pg_temp.r('Uplink'), 4);
SELECT state FROM mojob.confirm(pg_temp.j('Confirmed'));
SELECT code FROM mojob.create_job('Running', now() - interval '1 hour', now() + interval '1 hour',
  state => 'tentative', resources => ARRAY[pg_temp.r('Camera 2')]);
SELECT state FROM mojob.confirm(pg_temp.j('Running'));
SELECT pg_sleep(0.01);
SELECT state FROM mojob.swap_resource(pg_temp.j('Running'), pg_temp.r('Camera 2'), pg_temp.r('Camera 3'));
SELECT code FROM mojob.create_job('Completed', now() - interval '4 hours', now() - interval '3 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Studio')]);
SELECT state FROM mojob.confirm(pg_temp.j('Completed'));
SELECT code FROM mojob.create_job('Stopped', now() - interval '20 minutes', now() + interval '2 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Camera 1')]);
SELECT state FROM mojob.confirm(pg_temp.j('Stopped'));
SELECT pg_sleep(0.01);
SELECT state FROM mojob.stop(pg_temp.j('Stopped'));
SELECT code FROM mojob.create_job('Canceled', date_trunc('hour', now()) + interval '2 days',
  date_trunc('hour', now()) + interval '2 days 1 hour', resources => ARRAY[pg_temp.r('Studio')]);
SELECT state FROM mojob.reserve(pg_temp.j('Canceled'));
SELECT state FROM mojob.cancel(pg_temp.j('Canceled'), 'no longer needed');
SELECT code FROM mojob.create_job('Deleted', date_trunc('hour', now()) + interval '2 days',
  date_trunc('hour', now()) + interval '2 days 1 hour', state => 'tentative', resources => ARRAY[pg_temp.r('Studio')]);
SELECT state FROM mojob.cancel(pg_temp.j('Deleted'));
SELECT mojob.delete_job(pg_temp.j('Deleted'));
SELECT code FROM mojob.create_job('Blocker', date_trunc('day', now()) + interval '9 days 18 hours',
  date_trunc('day', now()) + interval '9 days 23 hours', state => 'tentative', resources => ARRAY[pg_temp.r('Studio')]);
SELECT code FROM mojob.create_job('Weekly', date_trunc('day', now()) + interval '2 days 20 hours',
  date_trunc('day', now()) + interval '2 days 21 hours', state => 'tentative', resources => ARRAY[pg_temp.r('Studio')]);
SELECT id FROM mojob.make_recurring(pg_temp.j('Weekly'), 'FREQ=WEEKLY;COUNT=3', 'UTC', '30 days');
SELECT locked_by FROM mojob.lock_job(pg_temp.j('Weekly'));
SQL

# ---------------------------------------------------------------------
# Each version, updated to the default one
# ---------------------------------------------------------------------

for my $v (@older, $default)
{
	my $db = 'from_' . ($v =~ s/\W/_/gr);
	my $what = $v eq $default ? "$v (no-op update)" : "$v -> $default";
	sql('postgres', "CREATE DATABASE $db");
	sql($db, "CREATE EXTENSION mojob VERSION '$v' CASCADE");
	is(sql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'mojob'}), $v, "$what: mojob $v installed");
	if ($v ne $default)
	{
		isnt(sql($db, "SELECT coalesce(path, '') FROM pg_extension_update_paths('mojob') "
				  . "WHERE source = '$v' AND target = '$default'"),
			'', "$what: an update path exists");
	}

	sql($db, $fill);
	is( sql($db, q{SELECT string_agg(state::text, ',' ORDER BY state) FROM (SELECT DISTINCT state FROM mojob.job) s}),
		'draft,tentative,confirmed,running,completed,canceled',
		"$what: jobs in every state");
	my $columns = columns($db);
	my $before = snapshot($db, $columns);
	my %count = map { $_ => (split /\n/, $before->{$_})[0] } grep { !/^\(/ } keys %$before;
	my $rows = 0;
	$rows += $_ for values %count;
	cmp_ok($count{job_event}, '>', 0, "$what: with history");
	cmp_ok($count{booking}, '>', 0, "$what: and bookings");

	my ($ret, $out, $err) = $node->psql($db, 'ALTER EXTENSION mojob UPDATE',
		extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
	is($ret, 0, "$what: ALTER EXTENSION mojob UPDATE succeeds") or diag($err);
	like($err, qr/version "\Q$v\E" of extension "mojob" is already installed/,
		"$what: it is a no-op on the default version") if $v eq $default;
	is(sql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'mojob'}), $default,
		"$what: mojob $default is installed");

	my $after = snapshot($db, $columns);
	for my $t (sort keys %$before)
	{
		is($after->{$t}, $before->{$t},
			$t =~ /^\(/ ? "$what: $t unchanged" : "$what: mojob.$t unchanged ($count{$t} rows)");
	}
	my $now = columns($db);
	my @added = grep { !exists $columns->{$_} || $now->{$_} ne $columns->{$_} } sort keys %$now;
	note("$what: tables the update added or changed: " . join('; ', map { "$_ ($now->{$_})" } @added)) if @added;
	note("$what: $rows rows compared in " . scalar(keys %count) . ' tables');
	my %fresh   = map { $_ => 1 } split /\n/, $fresh_objects;
	my %updated = map { $_ => 1 } split /\n/, sql($db, $objects_sql);
	my @missing = grep { !$updated{$_} } sort keys %fresh;
	my @extra   = grep { !$fresh{$_} } sort keys %updated;
	ok(!@missing && !@extra, "$what: the objects are those of a fresh install of $default")
	  or diag(join "\n", (map { "missing after the update: $_" } @missing),
		(map { "not in a fresh install: $_" } @extra));

	# The life cycle is still enforced.
	is(sqlstate($db, q{UPDATE mojob.job SET state = 'completed' WHERE name = 'Confirmed'}),
		'MJ001', "$what: an illegal transition is refused (MJ001)");
	is(sqlstate($db, q{SELECT mojob.reserve(id) FROM mojob.job WHERE name = 'Tentative'}),
		'MJ001', "$what: reserving a tentative job is refused (MJ001)");
	is( sqlstate($db, q{SELECT mojob.create_job('Clash', j.start_at, j.end_at, state => 'tentative',
	                      resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'Studio')])
	                    FROM mojob.job j WHERE j.name = 'Tentative'}),
		'MJ005', "$what: a conflicting reservation is refused (MJ005)");
	is( sqlstate($db, q{SELECT mojob.create_job('Clash 2', now() + interval '1 minute', now() + interval '30 minutes',
	                      pre_roll => '0', state => 'tentative',
	                      resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'Camera 3')])}),
		'MJ005', "$what: the camera swapped in to the running job is held (MJ005)");
	my $next = sprintf('UP-%05d true', sql($db, 'SELECT last_value FROM mojob.job_code_seq') + 1);
	is( sql($db, q{SELECT code || ' ' || (id > (SELECT max(id) FROM mojob.job))
	               FROM mojob.create_job('New', now() + interval '10 days', now() + interval '10 days 1 hour')}),
		$next,
		"$what: a new job gets the next id and code");
}

# The invariants hold at the end, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($node);

$node->stop;
done_testing();
