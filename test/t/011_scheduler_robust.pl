# The scheduler's robustness (docs/design.md section 2; src/scheduler.c):
#
#  - mojob.database naming a database that does not exist yet: one log line,
#    no crash loop, and its jobs advance once it exists with the extension;
#  - a listed database without the extension: one log line, then it works
#    after CREATE EXTENSION;
#  - DROP EXTENSION mojob while the worker runs: the worker stays up (same
#    pid), logs once, and works again after CREATE EXTENSION;
#  - mojob.scheduler = off (reload) stops advancing, on again resumes;
#  - a job whose row another open transaction has locked does not block the
#    other due jobs, nor makes later ones late;
#  - neither does a job that cannot advance (a trigger refuses it), logged
#    once;
#  - a database taken out of mojob.database (reload) loses its worker, and
#    gets one again when put back;
#  - a terminated launcher is restarted and there is still one worker per
#    database, woken at commit, even after a worker is terminated.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use MojobInvariants;
use Time::HiRes qw(usleep time);

my $node = PostgreSQL::Test::Cluster->new('robust');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'mojob'\nmojob.database = 'postgres, mjlate, mjnoext'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mojob CASCADE');

sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db, $query);
}

# A tentative job starting $start seconds from now, confirmed in a second
# transaction; returns its id.
sub confirmed_job
{
	my ($db, $name, $start, $end) = @_;
	my $id = sql($db,
		"SELECT id FROM mojob.create_job('$name', clock_timestamp() + interval '$start s', "
		  . "clock_timestamp() + interval '$end s', state => 'tentative')");
	sql($db, "SELECT state FROM mojob.confirm($id)");
	return $id;
}

sub state_of
{
	my ($db, $id) = @_;
	return sql($db, "SELECT state FROM mojob.job WHERE id = $id");
}

sub wait_state
{
	my ($db, $id, $state) = @_;
	return $node->poll_query_until($db,
		"SELECT state = '$state' FROM mojob.job WHERE id = $id");
}

sub history
{
	my ($db, $id) = @_;
	return join ', ', split /\n/,
	  sql($db,
		"SELECT from_state || '>' || to_state || ' ' || cause FROM mojob.job_event WHERE job_id = $id ORDER BY id"
	  );
}

sub start_lateness
{
	my ($db, $id) = @_;
	return sql($db,
		"SELECT extract(epoch FROM e.at - j.start_at) FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id "
		  . "WHERE e.job_id = $id AND e.from_state = 'confirmed' AND e.cause = 'time'");
}

sub worker_pid
{
	my ($db) = @_;
	return sql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = '$db'");
}

# How many lines of the server log match $re.
sub log_count
{
	my ($re) = @_;
	my $log = slurp_file($node->logfile);
	my $n = () = $log =~ /$re/gm;
	return $n;
}

my $re_late_missing   = qr/mojob scheduler: database "mjlate" does not exist; waiting for it/;
my $re_noext_missing  = qr/extension mojob is not installed in database "mjnoext"; waiting for it/;
my $re_worker_crashed = qr/background worker "mojob [^"]*" \(PID \d+\) (?:was terminated|exited)/;

# ---------------------------------------------------------------------
# A listed database that does not exist, and one without the extension
# ---------------------------------------------------------------------

$node->wait_for_log($re_late_missing);
ok(1, 'the launcher logs that database mjlate does not exist');

$node->safe_psql('postgres', 'CREATE DATABASE mjnoext');
$node->wait_for_log($re_noext_missing);
my $missing_since = time;
ok(1, 'once mjnoext exists, its worker logs that the extension is not installed');
my $noext_pid = worker_pid('mjnoext');
ok($noext_pid =~ /^\d+$/, "a worker runs in mjnoext without the extension (pid $noext_pid)");

# ---------------------------------------------------------------------
# A locked job does not block the others (database postgres)
# ---------------------------------------------------------------------

my $locked = confirmed_job('postgres', 'locked', 2, 600);
my $free   = confirmed_job('postgres', 'free',   2, 600);
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe("SELECT id FROM mojob.job WHERE id = $locked FOR UPDATE");

wait_state('postgres', $free, 'running');
my $late = start_lateness('postgres', $free);
ok($late >= 0 && $late < 0.5,
	"a due job advances on time (lateness $late s) while another due job's row is locked");
usleep(1_500_000);
is(state_of('postgres', $locked), 'confirmed',
	'the job whose row is locked by an open transaction is left alone');
my @waits = map {
	usleep(100_000);
	sql('postgres',
		"SELECT coalesce(wait_event_type, 'none') FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = 'postgres'"
	)
} 1 .. 10;
is(scalar(grep { $_ eq 'Lock' } @waits), 0, 'the worker never waits on the lock')
  or diag('wait_event_type samples: ' . join(', ', @waits));
ok(scalar(grep { $_ eq 'Extension' } @waits) > 0, 'it sleeps between its looks');

# While the locked job stays due, jobs falling due later still start on
# time: the worker's retries of the locked job must not decide their
# lateness.  Five jobs due 0.2 s apart sample the worker's timing.
my @later = map { confirmed_job('postgres', "free later $_", 2 + $_ / 5, 600) } 0 .. 4;
wait_state('postgres', $_, 'running') for @later;
my @lates = map { start_lateness('postgres', $_) } @later;
my @too_late = grep { $_ < 0 || $_ >= 0.5 } @lates;
is(scalar @too_late, 0,
	'jobs falling due while another due job is locked start within 500 ms of their start_at')
  or diag('lateness in s: ' . join(', ', @lates));

$holder->query_safe('COMMIT');
wait_state('postgres', $locked, 'running');
is(history('postgres', $locked), 'tentative>confirmed user, confirmed>running time',
	'once the lock is released the job advances by time');
$holder->quit;

# ---------------------------------------------------------------------
# A job that cannot advance (a user trigger refuses it) does not block the
# others, and is logged once, not at every retry
# ---------------------------------------------------------------------

sql('postgres', q{
	CREATE FUNCTION public.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.name = 'poison' AND NEW.state = 'running' THEN
			RAISE EXCEPTION 'poison job refuses to run';
		END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER aa_refuse_poison BEFORE UPDATE ON mojob.job
		FOR EACH ROW EXECUTE FUNCTION public.refuse_poison()});
my $poison = confirmed_job('postgres', 'poison', 2, 600);
my $healthy = confirmed_job('postgres', 'healthy', 2, 600);
wait_state('postgres', $healthy, 'running');
$late = start_lateness('postgres', $healthy);
ok($late >= 0 && $late < 0.5,
	"a due job advances on time (lateness $late s) although another due job in its batch fails");
my $re_poison = qr/mojob scheduler: job $poison cannot advance; retrying in a minute: poison job refuses to run/;
$node->wait_for_log($re_poison);
ok(1, 'the job that cannot advance is logged');

@later = map { confirmed_job('postgres', "after poison $_", 2 + $_ / 5, 600) } 0 .. 4;
wait_state('postgres', $_, 'running') for @later;
@lates = map { start_lateness('postgres', $_) } @later;
@too_late = grep { $_ < 0 || $_ >= 0.5 } @lates;
is(scalar @too_late, 0,
	'jobs falling due while a job that cannot advance waits for its retry start within 500 ms of their start_at')
  or diag('lateness in s: ' . join(', ', @lates));
is(state_of('postgres', $poison), 'confirmed', 'the job that cannot advance stays confirmed');
is(log_count($re_poison), 1, 'it is logged once, not at every look');
is(log_count(qr/mojob scheduler: a batch failed/), 1, 'one batch failed, once');
sql('postgres', "SELECT state FROM mojob.unconfirm($poison)");
sql('postgres', 'DROP TRIGGER aa_refuse_poison ON mojob.job');

# ---------------------------------------------------------------------
# mojob.scheduler = off, then on again (database postgres)
# ---------------------------------------------------------------------

my $pg_pid = worker_pid('postgres');
sql('postgres', 'ALTER SYSTEM SET mojob.scheduler = off');
sql('postgres', 'SELECT pg_reload_conf()');
$node->poll_query_until('postgres', 'SHOW mojob.scheduler', 'off');
my $paused = confirmed_job('postgres', 'paused', 1, 600);
usleep(3_000_000);
is(state_of('postgres', $paused), 'confirmed',
	'with mojob.scheduler = off a job 2 s past its start stays confirmed');
is(history('postgres', $paused), 'tentative>confirmed user', 'and has no time transition');
is(worker_pid('postgres'), $pg_pid, 'the worker stays up while off');

my $on_at = sql('postgres', 'SELECT clock_timestamp()');
sql('postgres', 'ALTER SYSTEM RESET mojob.scheduler');
sql('postgres', 'SELECT pg_reload_conf()');
wait_state('postgres', $paused, 'running');
is(history('postgres', $paused), 'tentative>confirmed user, confirmed>running time',
	'with mojob.scheduler on again the due job advances by time');
is( sql('postgres',
		"SELECT at >= '$on_at' FROM mojob.job_event WHERE job_id = $paused AND to_state = 'running'"),
	't',
	'after the setting was turned on');
is(worker_pid('postgres'), $pg_pid, 'by the same worker');

# ---------------------------------------------------------------------
# No crash loop while mjlate is missing and mjnoext lacks the extension
# ---------------------------------------------------------------------

# The launcher looks every 5 s, the worker without extension every 10 s:
# watch for at least 12 s.
my $left = 12 - (time - $missing_since);
usleep(int($left * 1_000_000)) if $left > 0;
is(log_count($re_late_missing), 1,
	'the missing database is logged once, not at every look');
is(log_count($re_noext_missing), 1,
	'the missing extension is logged once, not at every look');
is(worker_pid('mjnoext'), $noext_pid, 'the worker in mjnoext stayed up (same pid)');
is(log_count(qr/mojob scheduler started in database "mjnoext"/),
	1, 'the worker in mjnoext was started once');
is(log_count(qr/mojob launcher started/), 1, 'the launcher was started once');
is(log_count($re_worker_crashed), 0, 'no mojob process died');

# ---------------------------------------------------------------------
# CREATE EXTENSION in mjnoext: it works
# ---------------------------------------------------------------------

sql('mjnoext', 'CREATE EXTENSION mojob CASCADE');
my $noext_job = confirmed_job('mjnoext', 'after create extension', 2, 600);
wait_state('mjnoext', $noext_job, 'running');
is(history('mjnoext', $noext_job), 'tentative>confirmed user, confirmed>running time',
	'after CREATE EXTENSION the jobs of mjnoext advance by time');
$late = start_lateness('mjnoext', $noext_job);
ok($late >= 0 && $late < 1, "on time (lateness $late s)");
is(worker_pid('mjnoext'), $noext_pid, 'by the worker that waited for the extension');

# ---------------------------------------------------------------------
# mjlate created: its jobs advance
# ---------------------------------------------------------------------

sql('postgres', 'CREATE DATABASE mjlate');
sql('mjlate',   'CREATE EXTENSION mojob CASCADE');
my $late_job = confirmed_job('mjlate', 'in a late database', 2, 600);
wait_state('mjlate', $late_job, 'running');
is(history('mjlate', $late_job), 'tentative>confirmed user, confirmed>running time',
	'once mjlate exists with the extension, its jobs advance by time');
ok(log_count(qr/mojob scheduler started in database "mjlate"/) == 1,
	'a worker was started in mjlate');
ok(worker_pid('mjlate') =~ /^\d+$/, 'and runs');

# ---------------------------------------------------------------------
# DROP EXTENSION while the worker runs
# ---------------------------------------------------------------------

my $waiting = confirmed_job('mjnoext', 'dropped with the extension', 600, 700);
sql('mjnoext', 'DROP EXTENSION mojob CASCADE');
# Wake the workers (a reload sets their latches) so that mjnoext's looks.
sql('postgres', 'SELECT pg_reload_conf()');
$node->poll_query_until('postgres', 'SELECT 1', '1');
my $deadline = time + 60;
usleep(100_000) while log_count($re_noext_missing) < 2 && time < $deadline;
is(log_count($re_noext_missing), 2,
	'after DROP EXTENSION the worker logs that the extension is not installed');
for (1 .. 3)
{
	sql('postgres', 'SELECT pg_reload_conf()');
	usleep(700_000);
}
is(log_count($re_noext_missing), 2, 'once');
is(worker_pid('mjnoext'), $noext_pid, 'the worker stays up after DROP EXTENSION (same pid)');
is(log_count($re_worker_crashed), 0, 'no mojob process died');
ok(!$node->log_contains(qr/mojob scheduler started in database "mjnoext"[\s\S]*mojob scheduler started in database "mjnoext"/),
	'the worker in mjnoext was not restarted');

sql('mjnoext', 'CREATE EXTENSION mojob CASCADE');
my $again = confirmed_job('mjnoext', 'after re-create', 2, 600);
wait_state('mjnoext', $again, 'running');
is(history('mjnoext', $again), 'tentative>confirmed user, confirmed>running time',
	'after CREATE EXTENSION again the jobs of mjnoext advance by time');
$late = start_lateness('mjnoext', $again);
ok($late >= 0 && $late < 1, "on time (lateness $late s)");
is(worker_pid('mjnoext'), $noext_pid, 'by the same worker');
is(log_count(qr/mojob scheduler: (?:a batch failed|job \d+ cannot advance)/), 2,
	'no other batch failed along the way');
is(mojob_errors($node), '', 'no mojob process logged an error');

# ---------------------------------------------------------------------
# A database taken out of mojob.database: its worker stops; put back, it
# catches up
# ---------------------------------------------------------------------

# Set mojob.database and reload.
sub set_databases
{
	my ($list) = @_;
	sql('postgres', "ALTER SYSTEM SET mojob.database = '$list'");
	sql('postgres', 'SELECT pg_reload_conf()');
	$node->poll_query_until('postgres', 'SHOW mojob.database', $list);
	return;
}

# Wait until $db has $n workers, for at most $secs seconds.
sub wait_workers
{
	my ($db, $n, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		return 1 if workers_in($db) eq $n;
		usleep(100_000);
	}
	return 0;
}

set_databases('postgres, mjnoext');
ok(wait_workers('mjlate', 0, 15), 'a database taken out of mojob.database loses its worker');
my $unlisted = confirmed_job('mjlate', 'unlisted', 1, 600);
usleep(2_500_000);
is(state_of('mjlate', $unlisted), 'confirmed', 'and its due jobs stay confirmed');
set_databases('postgres, mjlate, mjnoext');
ok(wait_state_within('mjlate', $unlisted, 'running', 15),
	'put back in mojob.database, it gets a worker again that catches up its due jobs');
is(workers_in('mjlate'), '1', 'one worker');

# ---------------------------------------------------------------------
# The launcher terminated: the postmaster restarts it, and there is still
# one worker per database, woken at commit
# ---------------------------------------------------------------------

# Wait until $id is in $state, for at most $secs seconds.
sub wait_state_within
{
	my ($db, $id, $state, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		return 1 if state_of($db, $id) eq $state;
		usleep(100_000);
	}
	return 0;
}

sub workers_in
{
	my ($db) = @_;
	return sql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = '$db'");
}

# Every worker sleeps: the running jobs of postgres end in about 10 minutes.
sub wait_all_sleeping
{
	$node->poll_query_until('postgres',
		"SELECT bool_and(wait_event_type = 'Extension') FROM pg_stat_activity WHERE backend_type = 'mojob scheduler'"
	);
	return;
}

my $launcher = sql('postgres', "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mojob launcher'");
sql('postgres', "SELECT pg_terminate_backend($launcher)");
$deadline = time + 60;
usleep(100_000) while log_count(qr/mojob launcher started/) < 2 && time < $deadline;
is(log_count(qr/mojob launcher started/), 2, 'a terminated launcher is restarted by the postmaster');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mojob launcher' AND pid <> $launcher");
usleep(2_000_000);    # time for the new launcher to start any worker it means to
is(workers_in('postgres'), '1', 'after the launcher\'s restart there is still one worker in postgres');
is(workers_in('mjnoext'), '1', 'and one in mjnoext');

# One worker of postgres terminated (the oldest, if there are several).
wait_all_sleeping();
my $victim = sql('postgres',
	"SELECT min(pid) FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = 'postgres'");
sql('postgres', "SELECT pg_terminate_backend($victim)");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' "
	  . "AND datname = 'postgres' AND pid <> $victim");
is(workers_in('postgres'), '1', 'after a worker is terminated, one worker runs in postgres');
wait_all_sleeping();
my $woken = confirmed_job('postgres', 'after a worker was terminated', 2, 600);
ok(wait_state_within('postgres', $woken, 'running', 10),
	'a job confirmed to start in 2 s while the worker sleeps towards a due time 10 minutes away starts');
$late = start_lateness('postgres', $woken);
ok($late ne '' && $late >= 0 && $late < 0.5,
	'within 500 ms: the commit woke the worker (lateness ' . ($late eq '' ? 'none yet' : "$late s") . ')');

# The new launcher stops a worker it did not start when its database leaves
# mojob.database, too.
set_databases('postgres, mjlate');
ok(wait_workers('mjnoext', 0, 15),
	'after the launcher\'s restart, a database taken out of mojob.database loses its worker');
set_databases('postgres, mjlate, mjnoext');
ok(wait_workers('mjnoext', 1, 15), 'put back, it has one worker again');

# The invariants hold at the end, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($node);

$node->stop;
done_testing();

# Lines of the server log with an ERROR, FATAL or PANIC from a mojob
# launcher or scheduler process (known by the pid of its "started" line).
sub mojob_errors
{
	my ($node) = @_;
	my $log = slurp_file($node->logfile);
	my %pids = map { $_ => 1 } $log =~ /\[(\d+)\] LOG:  mojob (?:launcher|scheduler) started/g;
	return join '', grep { /\[(\d+)\] (?:ERROR|FATAL|PANIC):/ && $pids{$1} } split /^/m, $log;
}
