# pg_dump and restore (docs/design.md section 8): the dump of a database using
# mojob restores into a new database with plain psql or pg_restore, with
# every job, node and history row (the bookings rebuilt), and the restored
# database goes on enforcing every rule.
#
# The source database has jobs in every state, made with mojob's functions:
#   draft      -- with a resource disabled since (RESOURCE_UNAVAILABLE) and
#                 an unresolved pool node;
#   tentative  -- a pool node with a required capability, an amount of a
#                 resource with a capacity, an unresolved pool node, and an
#                 edit lock held by another user (alice);
#   confirmed  -- a pool node with a capability, an amount;
#   running    -- confirmed after its start (running at once), then a
#                 camera swapped, so that its nodes carry held_from and
#                 held_until; and one made running by mojob.advance();
#   completed  -- confirmed after its end (running, then completed), and
#                 one stopped early whose post-roll is still ahead;
#   canceled   -- with a reason; and a canceled job deleted since (its
#                 history stays);
# a weekly recurrence (mojob.make_recurring) whose third instance is a
# draft with RECURRENCE_CONFLICT, changed settings (job code pattern,
# rolls, horizon, lock timeout), and the README's roles and grants.
#
# It is dumped three ways and restored, with no option and no trigger
# disabled, as a superuser would:
#   - pg_dump (plain) | psql -v ON_ERROR_STOP=1;
#   - the same file with psql --single-transaction (the rows then belong
#     to jobs created by the same transaction);
#   - pg_dump -Fc | pg_restore --exit-on-error.
# Each restore must succeed without an error, and the restored database
# must equal the source row for row in every table of schema mojob --
# mojob.booking too (it is not dumped: the node trigger rebuilds it as the
# restore inserts mojob.job_resource) and mojob.settings (one row, which
# the dumped row updates) -- but mojob.booking_longest, a bound rebuilt
# with the bookings (not dumped either), which must bound every restored
# booking -- with the same sequence values; no history
# row added; code, created_at, created_by, version kept.  The restored
# database still refuses an illegal transition (MJ001), a conflicting
# reservation (MJ005), a change under another user's edit lock (MJ004),
# and an application role's INSERT of a running job (MJ001); the swapped
# camera is free from the swap on, the new one held; new jobs get new ids
# and codes.

use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use MojobInvariants;

my $node = PostgreSQL::Test::Cluster->new('dump');
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

# Run a client program; returns (exit status, stdout, stderr).
sub run_program
{
	my (@cmd) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

# ---------------------------------------------------------------------
# The source database
# ---------------------------------------------------------------------

sql('postgres', 'CREATE DATABASE src');
sql('src', 'CREATE EXTENSION mojob CASCADE');

# The README's roles (section Roles), and an application login.
sql('src', q{
CREATE ROLE mojob_viewer NOLOGIN;
GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
CREATE ROLE mojob_planner NOLOGIN IN ROLE mojob_viewer;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
      mojob.recurrence, mojob.recurrence_conflict TO mojob_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner;
CREATE ROLE mojob_app LOGIN IN ROLE mojob_planner;
});

my $fill = <<'SQL';
UPDATE mojob.settings SET job_code_pattern = 'MO-{YYYY}-{seq:4}', default_pre_roll = '15 minutes',
       default_post_roll = '10 minutes', validation_horizon = '2 hours', lock_timeout = '1 hour';
INSERT INTO mojob.resource (name, concurrency, capacity, capabilities, properties) VALUES
  ('Studio A', 1, NULL, '{}', '{"floor": 1}'),
  ('Studio B', 1, NULL, '{}', '{}'),
  ('Camera 1', 1, NULL, '{uhd,hdr}', '{}'),
  ('Camera 2', 1, NULL, '{uhd}', '{}'),
  ('Camera 3', 1, NULL, '{}', '{}'),
  ('Camera 4', 1, NULL, '{}', '{}'),
  ('Uplink', 3, 100, '{}', '{"band": "Ku"}'),
  ('Old encoder', 1, NULL, '{}', '{}');
INSERT INTO mojob.pool (name) VALUES ('Cameras'), ('UHD cameras');
INSERT INTO mojob.pool_member (pool_id, resource_id)
  SELECT p.id, r.id FROM mojob.pool p, mojob.resource r
  WHERE (p.name = 'Cameras' AND r.name LIKE 'Camera %') OR (p.name = 'UHD cameras' AND 'uhd' = ANY (r.capabilities));
CREATE FUNCTION pg_temp.r(text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM mojob.resource WHERE name = $1 $$;
CREATE FUNCTION pg_temp.p(text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM mojob.pool WHERE name = $1 $$;
CREATE FUNCTION pg_temp.j(text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = $1 $$;

-- draft: a resource disabled since, and an unresolved pool node
SELECT code FROM mojob.create_job('Draft show', date_trunc('hour', now()) + interval '3 days',
  date_trunc('hour', now()) + interval '3 days 2 hours',
  resources => ARRAY[pg_temp.r('Studio A'), pg_temp.r('Old encoder')], description => 'not booked', priority => 'low');
SELECT id FROM mojob.add_pool_node(pg_temp.j('Draft show'), pg_temp.p('Cameras'), 'wide');
UPDATE mojob.resource SET enabled = false WHERE name = 'Old encoder';

-- tentative: a pool node with a capability, an amount, an unresolved node, alice's edit lock
SELECT code FROM mojob.create_job('Tentative match', date_trunc('hour', now()) + interval '1 day',
  date_trunc('hour', now()) + interval '1 day 3 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Studio B')], properties => '{"league": "A"}');
SELECT id FROM mojob.add_pool_node(pg_temp.j('Tentative match'), pg_temp.p('Cameras'), 'main', '{uhd}');
SELECT id FROM mojob.assign_node((SELECT id FROM mojob.job_resource WHERE alias = 'main'), pg_temp.r('Camera 2'));
SELECT id FROM mojob.add_resource(pg_temp.j('Tentative match'), pg_temp.r('Uplink'), 40, 'feed');
SELECT id FROM mojob.add_pool_node(pg_temp.j('Tentative match'), pg_temp.p('UHD cameras'), 'spare');
SET mojob.actor = 'alice';
SELECT locked_by FROM mojob.lock_job(pg_temp.j('Tentative match'));
RESET mojob.actor;

-- confirmed
SELECT code FROM mojob.create_job('Confirmed concert', date_trunc('hour', now()) + interval '1 day 1 hour',
  date_trunc('hour', now()) + interval '1 day 4 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Studio A')], pre_roll => '1 hour', post_roll => '30 minutes');
SELECT id FROM mojob.add_pool_node(pg_temp.j('Confirmed concert'), pg_temp.p('UHD cameras'), 'close-up', '{hdr}');
SELECT id FROM mojob.assign_node((SELECT id FROM mojob.job_resource WHERE alias = 'close-up'), pg_temp.r('Camera 1'));
SELECT id FROM mojob.add_resource(pg_temp.j('Confirmed concert'), pg_temp.r('Uplink'), 50);
SELECT state FROM mojob.confirm(pg_temp.j('Confirmed concert'));

-- running: confirmed after its start; then Camera 3 swapped for Camera 4
SELECT code FROM mojob.create_job('Running news', now() - interval '1 hour', now() + interval '2 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Camera 3'), pg_temp.r('Studio B')]);
SELECT state FROM mojob.confirm(pg_temp.j('Running news'));
SELECT pg_sleep(0.01);
SELECT state FROM mojob.swap_resource(pg_temp.j('Running news'), pg_temp.r('Camera 3'), pg_temp.r('Camera 4'));

-- running by time: mojob.advance()
SELECT code FROM mojob.create_job('Advanced talk', now() + interval '20 minutes', now() + interval '50 minutes',
  pre_roll => '0', post_roll => '0', state => 'tentative', resources => ARRAY[pg_temp.r('Studio A')]);
SELECT state FROM mojob.confirm(pg_temp.j('Advanced talk'));
SELECT mojob.advance(now() + interval '30 minutes');

-- completed: confirmed after its end; and stopped early, its post-roll still ahead
SELECT code FROM mojob.create_job('Completed match', now() - interval '5 hours', now() - interval '2 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Studio A'), pg_temp.r('Camera 1')]);
SELECT state FROM mojob.confirm(pg_temp.j('Completed match'));
SELECT code FROM mojob.create_job('Stopped rehearsal', now() - interval '30 minutes', now() + interval '1 hour',
  post_roll => '20 minutes', state => 'tentative', resources => ARRAY[pg_temp.r('Camera 2')]);
SELECT state FROM mojob.confirm(pg_temp.j('Stopped rehearsal'));
SELECT pg_sleep(0.01);
SELECT state FROM mojob.stop(pg_temp.j('Stopped rehearsal'));

-- canceled; and a canceled job deleted since (its history stays)
SELECT code FROM mojob.create_job('Canceled feed', date_trunc('hour', now()) + interval '2 days',
  date_trunc('hour', now()) + interval '2 days 1 hour',
  state => 'tentative', resources => ARRAY[pg_temp.r('Uplink')]);
SELECT state FROM mojob.cancel(pg_temp.j('Canceled feed'), 'rights not cleared');
SELECT code FROM mojob.create_job('Deleted feed', date_trunc('hour', now()) + interval '2 days',
  date_trunc('hour', now()) + interval '2 days 1 hour', resources => ARRAY[pg_temp.r('Uplink')]);
SELECT state FROM mojob.reserve(pg_temp.j('Deleted feed'));
SELECT state FROM mojob.cancel(pg_temp.j('Deleted feed'));
SELECT mojob.delete_job(pg_temp.j('Deleted feed'));

-- a weekly recurrence whose third week's studio is taken
SELECT code FROM mojob.create_job('Blocker', date_trunc('day', now()) + interval '16 days 19 hours',
  date_trunc('day', now()) + interval '16 days 21 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Studio B')]);
SELECT code FROM mojob.create_job('Weekly magazine', date_trunc('day', now()) + interval '2 days 20 hours',
  date_trunc('day', now()) + interval '2 days 21 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Studio B')]);
SELECT id FROM mojob.make_recurring(pg_temp.j('Weekly magazine'), 'FREQ=WEEKLY;COUNT=4', 'UTC', '60 days');
SQL
sql('src', $fill);

is( sql('src', 'SELECT string_agg(state::text, \',\' ORDER BY state) FROM (SELECT DISTINCT state FROM mojob.job) s'),
	'draft,tentative,confirmed,running,completed,canceled',
	'the source has jobs in every state');
is( sql('src', q{SELECT string_agg(DISTINCT code, ',') FROM mojob.job_errors
	             WHERE code IN ('RECURRENCE_CONFLICT', 'RESOURCE_UNAVAILABLE', 'NODE_UNRESOLVED')}),
	'NODE_UNRESOLVED,RECURRENCE_CONFLICT,RESOURCE_UNAVAILABLE',
	'and a recurrence conflict, a disabled resource, unresolved pool nodes');
is( sql('src', q{SELECT count(*) FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
	             WHERE j.name = 'Running news' AND (n.held_from IS NOT NULL OR n.held_until IS NOT NULL)}),
	'2', 'the running job\'s swapped camera: one node held until the swap, one from it');
is(sql('src', q{SELECT locked_by FROM mojob.job WHERE name = 'Tentative match'}),
	'alice', 'alice holds the tentative job\'s edit lock');
cmp_ok(sql('src', 'SELECT count(*) FROM mojob.job_event WHERE job_id NOT IN (SELECT id FROM mojob.job)'),
	'>', 0, 'history of a deleted job');

# ---------------------------------------------------------------------
# What is compared: every table of schema mojob, and its sequences
# ---------------------------------------------------------------------

my @tables = split /\n/, sql('src', q{
	SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'mojob' AND c.relkind IN ('r', 'p')
	  AND c.relname <> 'booking_longest'    -- a bound, rebuilt: checked apart
	ORDER BY 1});
ok((grep { $_ eq 'booking' } @tables) && (grep { $_ eq 'settings' } @tables) && (grep { $_ eq 'job_event' } @tables),
	'tables compared: ' . join(', ', @tables));

# Each table's rows, as text, sorted.
sub snapshot
{
	my ($db) = @_;
	my %s;
	for my $t (@tables)
	{
		$s{$t} = sql($db, "SELECT count(*) || E'\\n' || coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') FROM mojob.$t x");
	}
	$s{'(sequences)'} = sql($db, q{
		SELECT string_agg(sequencename || ' ' || coalesce(last_value::text, 'not called'), E'\n' ORDER BY sequencename)
		FROM pg_sequences WHERE schemaname = 'mojob'});
	$s{'(extension)'} = sql($db, q{SELECT extname || ' ' || extversion FROM pg_extension WHERE extname = 'mojob'});
	$s{'(errors)'} = sql($db, q{SELECT string_agg(id || ' ' || errors::text, E'\n' ORDER BY id) FROM mojob.job_search});
	return \%s;
}

my $source = snapshot('src');
my $max_id = sql('src', 'SELECT max(id) FROM mojob.job');
my $codes  = sql('src', q{SELECT string_agg(quote_literal(code), ', ') FROM mojob.job});
my $rows = 0;
$rows += (split /\n/, $source->{$_})[0] for @tables;
my %count = map { $_ => (split /\n/, $source->{$_})[0] } @tables;
note('source rows: ' . join(', ', map { "$_ $count{$_}" } @tables) . "; $rows in all");
is($count{settings}, '1', 'mojob.settings has one row');

# ---------------------------------------------------------------------
# Dump, restore, compare
# ---------------------------------------------------------------------

my $dir = PostgreSQL::Test::Utils::tempdir;
my ($ret, $out, $err) = run_program('pg_dump', '-f', "$dir/src.sql", '-d', $node->connstr('src'));
is($ret, 0, 'pg_dump (plain) succeeds') or diag($err);
($ret, $out, $err) = run_program('pg_dump', '-Fc', '-f', "$dir/src.dump", '-d', $node->connstr('src'));
is($ret, 0, 'pg_dump -Fc succeeds') or diag($err);

my $dump = slurp_file("$dir/src.sql");
unlike($dump, qr/^COPY mojob\.booking /m, 'mojob.booking is not in the dump (it is derived)');
unlike($dump, qr/^COPY mojob\.booking_longest /m, 'mojob.booking_longest is not in the dump (it is derived)');
like($dump, qr/^COPY mojob\.job_resource /m, 'mojob.job_resource is');

my @restores = (
	[ 'plain', 'psql -f', [ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', "$dir/src.sql" ] ],
	[ 'single', 'psql --single-transaction -f',
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', "$dir/src.sql" ] ],
	[ 'custom', 'pg_restore', [ 'pg_restore', '--exit-on-error', "$dir/src.dump" ] ]);

for my $r (@restores)
{
	my ($suffix, $how, $cmd) = @$r;
	my $db = "restored_$suffix";
	sql('postgres', "CREATE DATABASE $db");
	($ret, $out, $err) = run_program(@$cmd, '-d', $node->connstr($db));
	is($ret, 0, "$how restores into a new database without an option (no --disable-triggers)");
	is(join("\n", grep { /ERROR|WARNING|FATAL/ } split /\n/, $err), '', "$how: no error or warning") or diag($err);

  SKIP:
	{
		skip "$how failed: nothing to compare", scalar(@tables) + 19 if $ret != 0;
		check_restored($how, $db);
	}
}

# Compare a restored database with the source, and try its rules.
sub check_restored
{
	my ($how, $db) = @_;
	my $restored = snapshot($db);
	for my $t (@tables, '(sequences)', '(extension)', '(errors)')
	{
		is($restored->{$t}, $source->{$t},
			$t =~ /^\(/ ? "$how: $t the same as the source" : "$how: mojob.$t equals the source row for row ($count{$t} rows)");
	}
	is( sql($db, q{SELECT count(*) FROM mojob.booking b
	                LEFT JOIN mojob.booking_longest l ON l.resource_id = b.resource_id
	                WHERE l.longest IS NULL OR upper(b.held) - lower(b.held) > l.longest}),
		'0', "$how: mojob.booking_longest, rebuilt, bounds every restored booking");
	is( sql($db, 'SELECT count(*) || \' \' || coalesce(max(id), 0) FROM mojob.job_event'),
		sql('src', 'SELECT count(*) || \' \' || coalesce(max(id), 0) FROM mojob.job_event'),
		"$how: the restore added no history row");
	is( sql($db, 'SELECT string_agg(concat_ws(\' \', id, code, created_at, created_by, version, updated_at), E\'\n\' ORDER BY id) FROM mojob.job'),
		sql('src', 'SELECT string_agg(concat_ws(\' \', id, code, created_at, created_by, version, updated_at), E\'\n\' ORDER BY id) FROM mojob.job'),
		"$how: every job keeps its code, created_at, created_by, version as dumped");
	is(sql($db, 'SELECT count(*) FROM mojob.settings'), '1', "$how: mojob.settings has one row");
	is(sql($db, 'SELECT job_code_pattern || \' \' || default_pre_roll || \' \' || default_post_roll FROM mojob.settings'),
		'MO-{YYYY}-{seq:4} 00:15:00 00:10:00', "$how: the changed settings are restored");

	# The restored database enforces the life cycle.
	is(sqlstate($db, q{UPDATE mojob.job SET state = 'completed' WHERE name = 'Confirmed concert'}),
		'MJ001', "$how: an illegal transition (confirmed to completed by UPDATE) is refused");
	is(sqlstate($db, q{SELECT mojob.confirm(id) FROM mojob.job WHERE name = 'Draft show'}),
		'MJ001', "$how: confirming a draft is refused");
	is( sqlstate($db, q{SELECT mojob.create_job('Clash', j.start_at, j.end_at, state => 'tentative',
	                      resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'Studio A')])
	                    FROM mojob.job j WHERE j.name = 'Confirmed concert'}),
		'MJ005', "$how: a reservation conflicting with a restored booking is refused");
	is( sqlstate($db, q{BEGIN;
	                    SELECT c.id FROM mojob.job j,
	                      LATERAL mojob.create_job('Uplink clash', j.start_at, j.end_at, state => 'tentative') c
	                    WHERE j.name = 'Tentative match' \gset
	                    SELECT mojob.add_resource(:id, (SELECT id FROM mojob.resource WHERE name = 'Uplink'), 20);
	                    COMMIT;}),
		'MJ005', "$how: so is one over the capacity left (40 + 50 of 100 booked)");
	is( sqlstate($db, q{SELECT mojob.create_job('On camera 4', now() + interval '1 minute', now() + interval '1 hour',
	                      pre_roll => '0', post_roll => '0', state => 'tentative',
	                      resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'Camera 4')])}),
		'MJ005', "$how: the camera swapped in to the running job is held");
	is( sqlstate($db, q{SELECT mojob.create_job('On camera 3', now() + interval '1 minute', now() + interval '1 hour',
	                      pre_roll => '0', post_roll => '0', state => 'tentative',
	                      resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'Camera 3')])}),
		'ok', "$how: the camera swapped out is free from the swap on");
	is(sqlstate($db, q{UPDATE mojob.job SET name = 'Renamed' WHERE name = 'Tentative match'}),
		'MJ004', "$how: alice's edit lock is still enforced");
	is( sqlstate($db, q{SET ROLE mojob_app;
	                    INSERT INTO mojob.job (name, state, start_at, end_at)
	                    VALUES ('Sneaky', 'running', now() - interval '1 hour', now() + interval '1 hour')}),
		'MJ001', "$how: an application role (README grants) cannot insert a running job");
	is( sqlstate($db, q{SET ROLE mojob_app;
	                    INSERT INTO mojob.job (name, start_at, end_at, code, version)
	                    VALUES ('App draft', now() + interval '5 days', now() + interval '5 days 1 hour', 'MINE', 42)}),
		'ok', "$how: it can insert a draft (the grants were restored)");
	is( sql($db, q{SELECT code ~ '^MO-\d{4}-\d{4}$' AND version = 1 AND created_by = session_user
	               FROM mojob.job WHERE name = 'App draft'}),
		't', "$how: its code, version and created_by come from mojob, not from the INSERT");
	is( sql($db, "SELECT count(*) FROM mojob.job WHERE name IN ('On camera 3', 'App draft') "
			  . "AND id > $max_id AND code NOT IN ($codes)"),
		'2', "$how: new jobs get ids and codes after the restored ones (the sequences were restored)");
}

# The invariants hold at the end, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($node);

$node->stop;
done_testing();
