# A data-only restore made with triggers disabled (README.md,
# "Guarantees", "A data-only restore"): pg_dump --data-only --disable-triggers
# restored into a new database where the extension was created.
#
# mojob.booking (and booking_longest) are not dumped: the node trigger
# rebuilds them as a plain restore inserts the nodes, but with triggers
# disabled nothing does.  The test shows
#   - that the restore succeeds (mojob.settings emptied first, as the README
#     says, since the dumped row is inserted as it is);
#   - that mojob.verify() then reports every booking missing (not ok,
#     naming them), and that a double booking of a restored job's studio is
#     accepted meanwhile (shown, then rolled back);
#   - that mojob.rebuild_bookings() returns how many it added (every
#     booking of the source), after which mojob.booking equals the source's
#     row for row, verify() is clean, a conflicting reservation is refused
#     (MJ005) and a second rebuild has nothing to do (0);
#   - that it wakes the scheduler: a confirmed job due a few seconds after
#     the restore starts on time, though the worker, sleeping since before
#     the restore, was told nothing by it;
#   - and where the restored data would over-book (the double booking
#     committed before the rebuild), that rebuild_bookings() refuses (MJ005,
#     naming the resource, the window and the jobs) and changes nothing.

use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use MojobInvariants;

my $node = PostgreSQL::Test::Cluster->new('data_only');
$node->init;
$node->append_conf('postgresql.conf', "log_min_error_statement = panic\n");
$node->start;

sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db, $query);
}

# The SQLSTATE a script fails with (and its message and detail), or 'ok'.
sub sqlerror
{
	my ($db, $query) = @_;
	my ($ret, $out, $err) = $node->psql($db, $query,
		extra_params => [ '-v', 'VERBOSITY=verbose', '-v', 'ON_ERROR_STOP=1' ]);
	return $err if $err =~ /ERROR:/;
	return $ret == 0 ? 'ok' : "exit $ret: $err";
}

sub run_program
{
	my (@cmd) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

# ---------------------------------------------------------------------
# The source: jobs in every state, with bookings
# ---------------------------------------------------------------------

sql('postgres', 'CREATE DATABASE src');
sql('src', 'CREATE EXTENSION mojob CASCADE');
sql('src', q{
UPDATE mojob.settings SET job_code_pattern = 'RS-{seq:4}', default_post_roll = '5 minutes';
INSERT INTO mojob.resource (name, concurrency, capacity) VALUES
  ('Studio A', 1, NULL), ('Studio B', 1, NULL), ('Camera 1', 1, NULL), ('Camera 2', 1, NULL),
  ('Camera 3', 1, NULL), ('Uplink', 3, 100);
INSERT INTO mojob.pool (name) VALUES ('Cameras');
INSERT INTO mojob.pool_member SELECT p.id, r.id FROM mojob.pool p, mojob.resource r WHERE r.name LIKE 'Camera %';
CREATE FUNCTION pg_temp.r(text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM mojob.resource WHERE name = $1 $$;
CREATE FUNCTION pg_temp.j(text) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM mojob.job WHERE name = $1 $$;

SELECT mojob.create_job('Draft show', now() + interval '3 days', now() + interval '3 days 2 hours',
  resources => ARRAY[pg_temp.r('Studio A')]);
SELECT mojob.add_pool_node(pg_temp.j('Draft show'), (SELECT id FROM mojob.pool), 'wide');
SELECT mojob.create_job('Tentative match', now() + interval '1 day', now() + interval '1 day 3 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Studio B')]);
SELECT mojob.add_resource(pg_temp.j('Tentative match'), pg_temp.r('Uplink'), 40);
SELECT mojob.create_job('Confirmed concert', now() + interval '1 day 4 hours', now() + interval '1 day 6 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Studio A')], pre_roll => '1 hour');
SELECT mojob.add_resource(pg_temp.j('Confirmed concert'), pg_temp.r('Uplink'), 50);
SELECT mojob.confirm(pg_temp.j('Confirmed concert'));
SELECT mojob.create_job('Running news', now() - interval '1 hour', now() + interval '2 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Camera 1'), pg_temp.r('Studio B')]);
SELECT mojob.confirm(pg_temp.j('Running news'));
SELECT pg_sleep(0.01);
SELECT mojob.swap_resource(pg_temp.j('Running news'), pg_temp.r('Camera 1'), pg_temp.r('Camera 3'));
SELECT mojob.create_job('Completed match', now() - interval '5 hours', now() - interval '2 hours',
  state => 'tentative', resources => ARRAY[pg_temp.r('Studio A'), pg_temp.r('Camera 1')]);
SELECT mojob.confirm(pg_temp.j('Completed match'));
SELECT mojob.create_job('Stopped rehearsal', now() - interval '30 minutes', now() + interval '1 hour',
  post_roll => '20 minutes', state => 'tentative', resources => ARRAY[pg_temp.r('Camera 2')]);
SELECT mojob.confirm(pg_temp.j('Stopped rehearsal'));
SELECT pg_sleep(0.01);
SELECT mojob.stop(pg_temp.j('Stopped rehearsal'));
SELECT mojob.create_job('Canceled feed', now() + interval '2 days', now() + interval '2 days 1 hour',
  state => 'tentative', resources => ARRAY[pg_temp.r('Uplink')]);
SELECT mojob.cancel(pg_temp.j('Canceled feed'), 'rights not cleared');
});

is( sql('src', q{SELECT string_agg(DISTINCT state::text, ',' ORDER BY state::text) FROM mojob.job}),
	'canceled,completed,confirmed,draft,running,tentative', 'the source has jobs in every state');
my $nbook = sql('src', 'SELECT count(*) FROM mojob.booking');
cmp_ok($nbook, '>=', 10, "and $nbook bookings");
is(sql('src', 'SELECT count(*) FROM mojob.verify() WHERE NOT ok'), '0', 'verify() is clean on the source');

my $bookings = q{SELECT coalesce(string_agg(concat_ws(' ', node_id, job_id, resource_id, held, amount), E'\n' ORDER BY node_id), '')
                 FROM mojob.booking};
my $src_bookings = sql('src', $bookings);

# ---------------------------------------------------------------------
# Dump the data only, triggers disabled; restore into fresh databases
# ---------------------------------------------------------------------

my $dir = PostgreSQL::Test::Utils::tempdir;
my ($ret, $out, $err) = run_program('pg_dump', '--data-only', '--disable-triggers',
	'-f', "$dir/data.sql", '-d', $node->connstr('src'));
is($ret, 0, 'pg_dump --data-only --disable-triggers succeeds') or diag($err);
like(slurp_file("$dir/data.sql"), qr/^ALTER TABLE mojob\.job_resource DISABLE TRIGGER ALL;/m,
	'the dump disables the triggers of mojob.job_resource');

# A due job for the scheduler test, restored from a second, small dump:
# confirmed, starting a few seconds after the restore.
sql('src', q{
SELECT mojob.create_job('Due soon', now() + interval '12 seconds', now() + interval '1 hour',
  pre_roll => '0', post_roll => '0', state => 'tentative',
  resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'Camera 1')]);
SELECT mojob.confirm(id) FROM mojob.job WHERE name = 'Due soon';
});

# dst: the scheduler serves it (preloaded), sleeping since before the restore.
sql('postgres', 'CREATE DATABASE dst');
sql('dst', 'CREATE EXTENSION mojob CASCADE');
sql('postgres', 'CREATE DATABASE over');
sql('over', 'CREATE EXTENSION mojob CASCADE');
$node->stop;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mojob'\nmojob.database = 'dst'\n");
$node->start;
($ret, $out, $err) = run_program('pg_dump', '--data-only', '--disable-triggers',
	'-f', "$dir/due.sql", '-d', $node->connstr('src'));
is($ret, 0, 'pg_dump again, with a confirmed job due in seconds') or diag($err);
usleep(500_000);    # the worker has made its first pass on the empty database

for my $db ('dst', 'over')
{
	# The dumped settings row is inserted as it is: the extension's own goes first.
	($ret, $out, $err) = run_program('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db),
		'-c', 'SET session_replication_role = replica', '-c', 'DELETE FROM mojob.settings');
	is($ret, 0, "$db: the extension's settings row deleted (triggers off)") or diag($err);
	($ret, $out, $err) = run_program('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db),
		'-f', ($db eq 'dst' ? "$dir/due.sql" : "$dir/data.sql"));
	is($ret, 0, "$db: the data-only dump restores without an error") or diag($err);
}
is(sql('dst', 'SELECT job_code_pattern FROM mojob.settings'), 'RS-{seq:4}', 'the settings are the source\'s');
is(sql('dst', 'SELECT count(*) FROM mojob.booking'), '0', 'mojob.booking is empty after the restore');

# ---------------------------------------------------------------------
# verify() sees it; a double booking gets through; rebuild; enforced again
# ---------------------------------------------------------------------

my $due_book = $nbook + 1;
is( sql('dst', q{SELECT string_agg(check_name, ',' ORDER BY check_name) FROM mojob.verify() WHERE NOT ok}),
	'bookings_missing', 'verify() reports the bookings missing, and nothing else');
like(sql('dst', q{SELECT detail FROM mojob.verify() WHERE check_name = 'bookings_missing'}),
	qr/^node \d+ of job RS-\d{4} \(resource id \d+, .*; and \d+ more$/, 'naming the first nodes, jobs and resources');

my $clash = q{SELECT c.code FROM mojob.job j,
                LATERAL mojob.create_job('Clash', j.start_at, j.end_at, state => 'tentative',
                  resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'Studio A')]) c
              WHERE j.name = 'Confirmed concert'};
like(sql('dst', "BEGIN; $clash; ROLLBACK;"), qr/^RS-\d{4}$/,
	'before the rebuild, a double booking of the confirmed concert\'s studio is accepted (rolled back here)');

is(sql('dst', 'SELECT mojob.rebuild_bookings()'), $due_book, "rebuild_bookings() adds the $due_book bookings");
is(sql('dst', "$bookings WHERE job_id <> (SELECT id FROM mojob.job WHERE name = 'Due soon')"), $src_bookings,
	'mojob.booking then equals the source\'s, row for row');
is(sql('dst', 'SELECT count(*) FROM mojob.verify() WHERE NOT ok'), '0', 'verify() is clean');
like(sqlerror('dst', $clash), qr/ERROR:  MJ005: resource "Studio A" is already booked/,
	'and the double booking is refused (MJ005)');
is(sql('dst', 'SELECT mojob.rebuild_bookings()'), '0', 'a second rebuild has nothing to do: 0');
is(sql('dst', q{SELECT count(*) FROM mojob.booking_longest l
                WHERE l.longest >= (SELECT max(upper(held) - lower(held)) FROM mojob.booking b WHERE b.resource_id = l.resource_id)}),
	sql('dst', 'SELECT count(DISTINCT resource_id) FROM mojob.booking'),
	'booking_longest bounds each booked resource');

# The scheduler was woken by the rebuild's commit: the job due starts on time.
my $started;
my $deadline = time() + 60;
while (time() < $deadline)
{
	$started = sql('dst', q{SELECT e.at - j.start_at FROM mojob.job j JOIN mojob.job_event e ON e.job_id = j.id
	                        WHERE j.name = 'Due soon' AND e.to_state = 'running'});
	last if $started ne '';
	usleep(200_000);
}
isnt($started, '', 'the worker started the restored confirmed job (the rebuild woke it)');
note("lateness: $started");
cmp_ok(sql('dst', q{SELECT extract(epoch FROM e.at - j.start_at) FROM mojob.job j JOIN mojob.job_event e ON e.job_id = j.id
                    WHERE j.name = 'Due soon' AND e.to_state = 'running'}) // 99, '<', 5,
	'on time (less than 5 s late)');

# ---------------------------------------------------------------------
# Data that would over-book: the rebuild refuses, and changes nothing
# ---------------------------------------------------------------------

like(sql('over', $clash), qr/^RS-\d{4}$/, 'over: a double booking is committed before the rebuild');
my $over_before = sql('over', $bookings);
my $refusal = sqlerror('over', 'SELECT mojob.rebuild_bookings()');
like($refusal, qr/ERROR:  MJ005: the bookings of the jobs would over-book their resources/,
	'rebuild_bookings() refuses (MJ005)');
like($refusal,
	qr/DETAIL:  Rebuilt from the jobs and their nodes: resource "Studio A" \(id \d+\) is held by 2 jobs at once from \S+ \S+ to \S+ \S+ \(RS-\d{4}, RS-\d{4}\), and its concurrency is 1\./,
	'naming the resource, the window and the jobs');
is(sql('over', $bookings), $over_before, 'and changes nothing');
is( sql('over', q{SELECT string_agg(check_name, ',' ORDER BY check_name) FROM mojob.verify() WHERE NOT ok}),
	'bookings_missing', 'verify() still reports the missing bookings');
sql('over', q{SELECT mojob.cancel(id) FROM mojob.job WHERE name = 'Clash'});
is(sql('over', 'SELECT mojob.rebuild_bookings()'), $nbook, 'once the clash is canceled, the rebuild goes through');

# Every database ends clean, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($node);

$node->stop;
done_testing();
