# Every mojob call can be canceled (DESIGN.md section 9): statement_timeout,
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
# 0.02 s, timeline 0.2 s; timeline_svg over 100,000 bookings ran more than
# 10 minutes (canceled), the case this test signals.

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
$node->append_conf('postgresql.conf', "max_connections = 20\n");
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
	my ($role, $query, $settings) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres') . " user=$role application_name=victim",
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
	my ($role, $query, $signal, $after) = @_;
	my ($h, $out, $err) = start_call($role, $query);
	my $pid = victim_pid(10);
	usleep($after * 1_000_000);
	my $running = sql("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND state = 'active'") eq '1';
	my $t0 = time;
	sql("SELECT $signal($pid)");
	$h->finish;
	my $took = time - $t0;
	return ($took, $$err, $running);
}

# The longest call a viewer can make here: timeline_svg over the studio's
# 30,000 bookings (it ran minutes unsignaled).
my $svg = "SELECT length(mojob.timeline_svg(tstzrange(now(), now() + interval '20 years')))";

{
	my ($took, $err, $running) = signaled('viewer', $svg, 'pg_cancel_backend', 1);
	ok($running, 'timeline_svg over 30,000 bookings still runs after a second');
	like($err, qr/canceling statement due to user request/, 'pg_cancel_backend cancels it (57014)');
	ok($took < 1, sprintf('within a second of the signal (%.3f s)', $took));
}
{
	my ($took, $err, $running) = signaled('viewer', $svg, 'pg_terminate_backend', 1);
	ok($running, 'timeline_svg, again, still runs after a second');
	like($err, qr/terminating connection due to administrator command|server closed the connection/,
		'pg_terminate_backend ends its session');
	ok($took < 1, sprintf('within a second of the signal (%.3f s)', $took));
	is(sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'victim'"), '0',
		'the session is gone');
}
{
	# statement_timeout: the call ends within a second of the timeout.
	my ($h, $out, $err) = start_call('viewer', $svg, 'SET statement_timeout = 1000; ');
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

MojobInvariants::check_all($node);
$node->stop;

done_testing();
