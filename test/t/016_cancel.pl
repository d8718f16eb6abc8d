# Part 1. Every mojob call can be canceled (README.md, "Guarantees"): statement_timeout,
# pg_cancel_backend and pg_terminate_backend end it within a second,
# however hostile its arguments.
#
# For each of the longest calls a README role can make, the call runs in a
# psql of its own (IPC::Run); once it is seen active in pg_stat_activity,
# another session cancels or terminates it, and the time from the signal to
# the end of the call is measured: it must end within a second, with 57014
# (canceled) or with its session ended (terminated).
#
# Calls that cannot be made to last long enough to cancel are bounded before
# their work starts (src/args.h, src/recurrence.c): for them the test only
# asserts that, unsignaled, they end within a second with the most expensive
# arguments still accepted, and says so (a skip): nothing about cancellation
# is asserted where no cancellation was exercised.  Measured on the test
# machine: recurrence_preview with the most expensive accepted rules 0.2-0.4 s,
# create_job with MOJOB_MAX_IDS ids 0.02 s (refused at the first bad id),
# verify() over 100,000 bookings 0.7 s, resource_usage and free_resources
# 0.02 s, timeline 0.2 s.  timeline_svg over 300,000 bookings (about 3 s) is
# the case this test signals (before its pieces were joined once, 100,000
# bookings ran more than 10 minutes).

# Part 2. The scheduler keeps time against locks a user session holds that
# test/t/015_scheduler_locks.pl does not take: the settings row FOR UPDATE
# and FOR SHARE (a role with UPDATE on mojob.settings), a pool row and
# booking_longest rows FOR UPDATE (roles with UPDATE on them), advisory
# locks (any role).  Each is held while the worker restarts (its first pass
# extends the recurrences) and a job due 5 s after it began must start within a
# second.  LOCK TABLE mojob.job IN SHARE MODE, which PostgreSQL lets any
# role with UPDATE on the table take (the planner), stops every time
# transition while held: nothing can write mojob.job then.  That is
# measured and reported (diag), and the job must start once it is released.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MojobInvariants;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $node = PostgreSQL::Test::Cluster->new('cancel');
$node->init;
$node->append_conf('postgresql.conf',
	"max_connections = 20\nshared_preload_libraries = 'mojob'\nmojob.database = 'postgres'\n");
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

sql(q{
	CREATE EXTENSION mojob CASCADE;
	CREATE ROLE mojob_viewer NOLOGIN;
	GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
	GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
	CREATE ROLE mojob_planner NOLOGIN IN ROLE mojob_viewer;
	GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
	      mojob.recurrence, mojob.recurrence_conflict TO mojob_planner;
	GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner;
	CREATE ROLE planner LOGIN IN ROLE mojob_planner;
	CREATE ROLE viewer LOGIN IN ROLE mojob_viewer;
	INSERT INTO mojob.resource (id, name) VALUES (1, 'studio');
});

# A studio with 30,000 bookings, one an hour from tomorrow on (the owner's
# insert, as a restore makes them).
sql(q{
	WITH j AS (
		INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
		SELECT 'j' || i, 'tentative', t, t, t + interval '30 minutes', t + interval '30 minutes'
		FROM generate_series(1, 30000) i,
		     LATERAL (SELECT date_trunc('hour', now()) + interval '1 day' + i * interval '1 hour' AS t) s
		RETURNING id)
	INSERT INTO mojob.job_resource (job_id, resource_id) SELECT id, 1 FROM j});
is(sql('SELECT count(*) FROM mojob.booking'), '30000', '30,000 bookings on the studio');

# Start $query as $role in a psql of its own; returns the run handle and
# refs to its stdout and stderr.
sub start_call
{
	my ($role, $query, $settings, $db) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr($db // 'postgres') . " user=$role application_name=victim",
			'-c', ($settings // '') . $query
		],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

# The pid of the victim once its call is active, or '' after $secs seconds.
sub victim_pid
{
	my ($secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		my $pid = sql(
			"SELECT pid FROM pg_stat_activity WHERE application_name = 'victim' AND state = 'active'");
		return $pid if $pid ne '';
		usleep(20_000);
	}
	return '';
}

# Run $query as $role, signal it with $signal (pg_cancel_backend or
# pg_terminate_backend) after $after seconds; returns (seconds from the
# signal to the end of the call, stderr, whether it was still running when
# signaled).
sub signaled
{
	my ($role, $query, $signal, $after, $db) = @_;
	my ($h, $out, $err) = start_call($role, $query, undef, $db);
	my $pid = victim_pid(10);
	usleep($after * 1_000_000);
	my $running = sql("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND state = 'active'") eq '1';
	my $t0 = time;
	sql("SELECT $signal($pid)");
	$h->finish;
	my $took = time - $t0;
	return ($took, $$err, $running);
}

# The longest call a viewer can make: timeline_svg over a studio's 300,000
# bookings (about 3 s unsignaled; before its pieces were joined once, 30,000
# bookings took minutes).  They are written the way a data-only restore
# writes them, with the triggers off, and consistent: jobs, nodes, bookings
# and the longest-booking bound as mojob makes them (verify() checks that at
# the end), in a database of their own, so that the calls below keep their
# 30,000.
$node->safe_psql('postgres', 'CREATE DATABASE big');
$node->safe_psql('big', q{
	CREATE EXTENSION mojob CASCADE;
	GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
	GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
	INSERT INTO mojob.resource (id, name) VALUES (1, 'studio');
	SET session_replication_role = replica;
	INSERT INTO mojob.job (name, code, state, pre_roll_start, start_at, end_at, post_roll_end, created_by)
	SELECT 'j' || i, 'BIG-' || i, 'tentative', t, t, t + interval '30 minutes', t + interval '30 minutes', 'test'
	FROM generate_series(1, 300000) i,
	     LATERAL (SELECT date_trunc('hour', now()) + interval '1 day' + i * interval '1 hour' AS t) s;
	INSERT INTO mojob.job_resource (job_id, resource_id) SELECT id, 1 FROM mojob.job;
	INSERT INTO mojob.booking (node_id, job_id, resource_id, held, amount)
	SELECT n.id, j.id, 1, tstzrange(j.pre_roll_start, j.post_roll_end), 0
	FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id;
	INSERT INTO mojob.booking_longest VALUES (1, interval '30 minutes');
	RESET session_replication_role;
	ANALYZE;
});
is($node->safe_psql('big', 'SELECT count(*) FROM mojob.booking'), '300000', '300,000 bookings on the big studio');
my $svg = "SELECT length(mojob.timeline_svg(tstzrange(now(), now() + interval '40 years')))";

{
	my ($took, $err, $running) = signaled('viewer', $svg, 'pg_cancel_backend', 1, 'big');
	ok($running, 'timeline_svg over 300,000 bookings still runs after a second');
	like($err, qr/canceling statement due to user request/, 'pg_cancel_backend cancels it (57014)');
	ok($took < 1, sprintf('within a second of the signal (%.3f s)', $took));
}
{
	my ($took, $err, $running) = signaled('viewer', $svg, 'pg_terminate_backend', 1, 'big');
	ok($running, 'timeline_svg, again, still runs after a second');
	like($err, qr/terminating connection due to administrator command|server closed the connection/,
		'pg_terminate_backend ends its session');
	ok($took < 1, sprintf('within a second of the signal (%.3f s)', $took));
	is(sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'victim'"), '0',
		'the session is gone');
}
{
	# statement_timeout: the call ends within a second of the timeout.
	my ($h, $out, $err) = start_call('viewer', $svg, 'SET statement_timeout = 1000; ', 'big');
	my $t0 = time;
	$h->finish;
	my $took = time - $t0;
	like($$err, qr/canceling statement due to statement timeout/, 'statement_timeout = 1 s cancels it (57014)');
	ok($took < 2.5, sprintf('within a second of the timeout (%.3f s from start, psql start included)', $took));
}

# The other long calls, with the most expensive arguments still accepted:
# each ends, unsignaled, within a second (bounded before the work starts),
# so there is nothing left to cancel.
my @bounded = (
	[ 'planner', 'recurrence_preview, hourly on February 29th over 22 years',
	  q{SELECT count(*) FROM mojob.recurrence_preview('FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29', 'UTC', '2028-02-29', '2050-01-01')} ],
	[ 'planner', 'recurrence_preview, minutely on February 29th',
	  q{SELECT count(*) FROM mojob.recurrence_preview('FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=0', 'UTC', '2028-02-29', '2028-06-01')} ],
	[ 'planner', 'create_job with MOJOB_MAX_IDS (100,000) resource ids',
	  q{SELECT mojob.create_job('many', now() + interval '9 days', now() + interval '9 days 1 hour', resources => (SELECT array_agg(i) FROM generate_series(1, 100000) i))} ],
	[ 'viewer', 'verify() over 30,000 bookings', q{SELECT count(*) FROM mojob.verify()} ],
	[ 'viewer', 'resource_usage over 30,000 bookings',
	  q{SELECT * FROM mojob.resource_usage(1, tstzrange(now(), 'infinity'))} ],
	[ 'viewer', 'free_resources over 20 years', q{SELECT count(*) FROM mojob.free_resources(tstzrange(now(), now() + interval '20 years'))} ],
	[ 'viewer', 'timeline over 30,000 bookings', q{SELECT count(*) FROM mojob.timeline(tstzrange(now(), now() + interval '20 years'))} ],
);
for my $b (@bounded)
{
	my ($role, $label, $query) = @$b;
	my ($h, $out, $err) = start_call($role, $query);
	my $pid = victim_pid(10);
	my $t0 = time;
	$h->finish;
	my $took = time - $t0;
	ok($took < 1, sprintf('%s: ends unsignaled within a second (%.3f s): bounded, nothing to cancel', $label, $took));
}

# ---------------------------------------------------------------------
# Part 2. Locks users hold, and the scheduler
# ---------------------------------------------------------------------

sql(q{
	CREATE ROLE admin LOGIN IN ROLE mojob_viewer;
	GRANT UPDATE ON mojob.settings, mojob.pool, mojob.booking_longest TO admin;
	INSERT INTO mojob.pool (id, name) VALUES (1, 'cameras');
});
my $series = sql(q{
	SELECT (mojob.make_recurring(
		(mojob.create_job('daily show', date_trunc('hour', now()) + interval '1 day 30 minutes',
		                  date_trunc('hour', now()) + interval '1 day 40 minutes',
		                  state => 'tentative')).id,
		'FREQ=DAILY', 'UTC', '3 days')).id});

sub worker_pid
{
	return sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = 'postgres'");
}

sub restart_worker
{
	my $old = worker_pid();
	sql("SELECT pg_terminate_backend($old)") if $old ne '';
	my $deadline = time + 30;
	while (time < $deadline)
	{
		my $pid = worker_pid();
		return $pid if $pid =~ /^\d+$/ && $pid ne $old;
		usleep(100_000);
	}
	die 'no new worker';
}

sub wait_running
{
	my ($id, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		return 1 if sql("SELECT state FROM mojob.job WHERE id = $id") eq 'running';
		usleep(50_000);
	}
	return 0;
}

sub lateness
{
	my ($id) = @_;
	return sql("SELECT extract(epoch FROM e.at - j.start_at) FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id "
		  . "WHERE e.job_id = $id AND e.from_state = 'confirmed' AND e.cause = 'time'");
}

# Hold $take in a transaction of $role, restart the worker, and time a job
# due 3 s later; returns its lateness ('' if it did not start while held).
sub held
{
	my ($label, $role, $take) = @_;
	sql("UPDATE mojob.recurrence SET horizon = horizon + interval '1 day' WHERE id = $series");
	my $job = sql("SELECT id FROM mojob.create_job('unrelated to the $label', clock_timestamp() + interval '5 s', "
		  . "clock_timestamp() + interval '10 min', state => 'tentative')");
	sql("SELECT state FROM mojob.confirm($job)");
	my $holder = $node->background_psql('postgres', on_error_stop => 1, extra_params => [ '-U', $role ]);
	$holder->query_safe('BEGIN');
	$holder->query_safe($_) for @$take;
	restart_worker();
	my $on_time = wait_running($job, 8);
	$holder->query_safe('ROLLBACK');
	$holder->quit;
	ok(wait_running($job, 30), "$label: the job starts once the lock is released");
	my $late = lateness($job);
	return ($on_time, $late);
}

my @lates;
for my $case (
	[ 'settings row held FOR UPDATE', 'admin', ['SELECT FROM mojob.settings FOR UPDATE'] ],
	[ 'settings row held FOR SHARE', 'admin', ['SELECT FROM mojob.settings FOR SHARE'] ],
	[ 'pool row held FOR UPDATE', 'admin', ['SELECT FROM mojob.pool WHERE id = 1 FOR UPDATE'] ],
	[ 'booking_longest rows held FOR UPDATE', 'admin', ['SELECT FROM mojob.booking_longest FOR UPDATE'] ],
	[ 'advisory locks held', 'viewer', ['SELECT pg_advisory_xact_lock(k) FROM generate_series(0, 100) k',
	                                   'SELECT pg_advisory_xact_lock(k, j) FROM generate_series(0, 10) k, generate_series(0, 10) j'] ])
{
	my ($label, $role, $take) = @$case;
	my ($on_time, $late) = held($label, $role, $take);
	ok($on_time && $late ne '' && $late >= 0 && $late < 1,
		"$label: an unrelated job starts within a second (lateness " . ($late eq '' ? 'none' : "$late s") . ')');
	push @lates, "$label $late";
}
diag('lateness under held locks (s): ' . join(', ', @lates));

# A table lock the planner may take (UPDATE on mojob.job lets it): every
# write of mojob.job waits, the worker's too.  Reported, not a promise.
{
	my ($on_time, $late) = held('planner LOCK TABLE mojob.job IN SHARE MODE', 'planner',
		['LOCK TABLE mojob.job IN SHARE MODE']);
	diag("LOCK TABLE mojob.job IN SHARE MODE held by a planner past a job's due time: the due job " .
		($on_time ? 'started on time' : 'waited for the lock') . " (lateness $late s)");
}

MojobInvariants::check_all($node);
$node->stop;

done_testing();
