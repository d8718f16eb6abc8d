# The scheduler (docs/design.md section 2): with shared_preload_libraries =
# 'mojob', a "mojob launcher" starts one "mojob scheduler" worker per
# database of mojob.database; the worker makes the time transitions when
# they fall due, sleeping until the next due time and woken at commit by a
# transaction that made a due time earlier than the one it sleeps towards.
#
#  1. jobs due in the next seconds start and complete by themselves, with
#     history rows of cause 'time' written close to the due instant;
#  2. a job confirmed to start in 2 s while the worker sleeps towards a due
#     time far away starts on time (the commit wakes the worker);
#  3. so does a job whose due time an edit made earlier (mojob.reschedule,
#     or a plain UPDATE of start_at);
#  4. killing the worker with SIGKILL: the postmaster restarts, the
#     launcher comes back and a new worker catches up the jobs that fell due
#     meanwhile.
#
# Lateness is the history row's "at" (the clock time of the transition)
# minus the due instant.  It is only bounded loosely here (the machine runs
# other tests); the benchmark measures it precisely.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use MojobInvariants;
use Time::HiRes qw(usleep time);

my $node = PostgreSQL::Test::Cluster->new('scheduler');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'mojob'\nmojob.database = 'postgres'\nrestart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mojob CASCADE');

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

# Create a tentative job starting $start seconds from now and ending $end
# seconds from now (clock time), then confirm it in a second transaction.
# Returns its id.
sub confirmed_job
{
	my ($name, $start, $end) = @_;
	my $id = sql(
		"SELECT id FROM mojob.create_job('$name', clock_timestamp() + interval '$start s', "
		  . "clock_timestamp() + interval '$end s', state => 'tentative')");
	sql("SELECT state FROM mojob.confirm($id)");
	return $id;
}

sub state_of
{
	my ($id) = @_;
	return sql("SELECT state FROM mojob.job WHERE id = $id");
}

# The job's history: "from>to cause" per row, in order.
sub history
{
	my ($id) = @_;
	return join ', ',
	  split /\n/,
	  sql(
		"SELECT from_state || '>' || to_state || ' ' || cause FROM mojob.job_event WHERE job_id = $id ORDER BY id"
	  );
}

# Seconds between the due instant and the history row of the time
# transition from $from (confirmed: start_at; running: end_at).
sub lateness
{
	my ($id, $from) = @_;
	my $due = $from eq 'confirmed' ? 'start_at' : 'end_at';
	return sql(
		"SELECT extract(epoch FROM e.at - j.$due) FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id "
		  . "WHERE e.job_id = $id AND e.from_state = '$from' AND e.cause = 'time'");
}

sub wait_state
{
	my ($id, $state) = @_;
	return $node->poll_query_until('postgres',
		"SELECT state = '$state' FROM mojob.job WHERE id = $id");
}

sub worker_pid
{
	return sql(
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = 'postgres'"
	);
}

# Wait until the worker sleeps (waits on its latch), and return its pid.
sub wait_worker_sleeping
{
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' "
		  . "AND datname = 'postgres' AND wait_event_type = 'Extension'")
	  or diag('the mojob scheduler worker is not sleeping: '
		  . sql("SELECT backend_type, state, wait_event_type, wait_event FROM pg_stat_activity"));
	return worker_pid();
}

# The confirmation was made by the test ahead of the start, and the start by
# another transaction (the worker's), not by confirming a job already due.
sub started_by_worker
{
	my ($id, $label) = @_;
	is( sql(
			"SELECT c.at < j.start_at AND c.xmin <> r.xmin AND c.cause = 'user' AND r.cause = 'time' "
			  . "FROM mojob.job j JOIN mojob.job_event c ON c.job_id = j.id AND c.to_state = 'confirmed' "
			  . "JOIN mojob.job_event r ON r.job_id = j.id AND r.from_state = 'confirmed' AND r.to_state = 'running' "
			  . "WHERE j.id = $id"),
		't',
		"$label: confirmed ahead of its start, started by the worker in a transaction of its own");
	return;
}

# ---------------------------------------------------------------------
# The processes
# ---------------------------------------------------------------------

$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mojob launcher'")
  or diag('no mojob launcher');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = 'postgres'")
  or diag('no mojob scheduler');
ok(worker_pid() =~ /^\d+$/, 'a mojob scheduler worker runs for database postgres');
ok($node->log_contains(qr/mojob scheduler started in database "postgres"/),
	'the worker logs that it started');

# ---------------------------------------------------------------------
# 1. Jobs due in the next seconds start and complete by themselves
# ---------------------------------------------------------------------

my @soon = (
	confirmed_job('soon 1', 1.5, 3),
	confirmed_job('soon 2', 2, 3.5),
	confirmed_job('soon 3', 2.5, 4));
is(join(',', map { state_of($_) } @soon),
	'confirmed,confirmed,confirmed', 'jobs confirmed ahead of their start are confirmed');

for my $id (@soon)
{
	wait_state($id, 'completed');
}
is(join(',', map { state_of($_) } @soon),
	'completed,completed,completed',
	'jobs due in the next seconds started and completed by themselves');
for my $i (0 .. $#soon)
{
	my $id = $soon[$i];
	is( history($id),
		'tentative>confirmed user, confirmed>running time, running>completed time',
		"soon job $i: confirmed by the user, then running and completed by time");
	my $late_start = lateness($id, 'confirmed');
	my $late_end   = lateness($id, 'running');
	ok($late_start >= 0 && $late_start < 1,
		"soon job $i started within 1 s of its start_at (lateness ${late_start} s)");
	ok($late_end >= 0 && $late_end < 1,
		"soon job $i completed within 1 s of its end_at (lateness ${late_end} s)");
	started_by_worker($id, "soon job $i");
}

# ---------------------------------------------------------------------
# 2. A job confirmed to start in 2 s while the worker sleeps towards a due
#    time far away starts on time
# ---------------------------------------------------------------------

my $far = confirmed_job('far away', 600, 700);
my $sleeper = wait_worker_sleeping();
my $near = confirmed_job('near', 2, 60);
is(state_of($near), 'confirmed', 'a job confirmed to start in 2 s is confirmed');
wait_state($near, 'running');
is(history($near), 'tentative>confirmed user, confirmed>running time',
	'the job confirmed while the worker slept towards a far due time started by time');
my $late = lateness($near, 'confirmed');
ok($late >= 0 && $late < 0.5,
	"it started within 500 ms of its start_at (lateness $late s): the commit woke the worker");
started_by_worker($near, 'near job');
is(worker_pid(), $sleeper, 'the same worker did it');
is(state_of($far), 'confirmed', 'the far job is still confirmed');

# ---------------------------------------------------------------------
# 3. An edit that makes a due time earlier wakes the worker too
# ---------------------------------------------------------------------

# With mojob.reschedule()
my $moved = confirmed_job('rescheduled', 60, 120);
wait_worker_sleeping();
sql("SELECT state FROM mojob.reschedule($moved, clock_timestamp() + interval '2 s', clock_timestamp() + interval '60 s')"
);
is(state_of($moved), 'confirmed', 'a confirmed job rescheduled to start in 2 s is still confirmed');
wait_state($moved, 'running');
is(history($moved), 'tentative>confirmed user, confirmed>running time',
	'the rescheduled job started by time');
$late = lateness($moved, 'confirmed');
ok($late >= 0 && $late < 0.5,
	"the job rescheduled from 60 s to 2 s away started within 500 ms of its new start_at (lateness $late s)"
);
is( sql(
		"SELECT r.xmin <> (SELECT xmin FROM mojob.job_event WHERE job_id = $moved AND to_state = 'confirmed') "
		  . "FROM mojob.job_event r WHERE job_id = $moved AND to_state = 'running'"),
	't',
	'it was started by the worker');

# With a plain UPDATE of start_at (and pre_roll_start, which may not follow it)
my $updated = confirmed_job('updated', 60, 120);
wait_worker_sleeping();
sql("UPDATE mojob.job SET pre_roll_start = clock_timestamp() + interval '2 s', "
	  . "start_at = clock_timestamp() + interval '2 s' WHERE id = $updated");
is(state_of($updated), 'confirmed', 'a confirmed job UPDATEd to start in 2 s is still confirmed');
wait_state($updated, 'running');
is(history($updated), 'tentative>confirmed user, confirmed>running time',
	'the updated job started by time');
$late = lateness($updated, 'confirmed');
ok($late >= 0 && $late < 0.5,
	"the job whose start_at an UPDATE moved from 60 s to 2 s away started within 500 ms (lateness $late s)"
);

# The end of a running job made earlier by an UPDATE wakes it as well.
wait_worker_sleeping();
sql("UPDATE mojob.job SET end_at = clock_timestamp() + interval '2 s', "
	  . "post_roll_end = clock_timestamp() + interval '2 s' WHERE id = $updated");
wait_state($updated, 'completed');
$late = lateness($updated, 'running');
ok($late >= 0 && $late < 0.5,
	"a running job whose end_at an UPDATE moved from 2 min to 2 s away completed within 500 ms (lateness $late s)"
);

# ---------------------------------------------------------------------
# 4. SIGKILL of the worker: crash restart, and the new worker catches up
# ---------------------------------------------------------------------

my $old_worker = wait_worker_sleeping();
my $old_launcher =
  sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'mojob launcher'");
my $log_offset = -s $node->logfile;

# Freeze the worker (SIGSTOP, that pid alone) so that the jobs fall due
# while it cannot act, then kill it with SIGKILL.
kill 'STOP', $old_worker;
my @caught = (
	confirmed_job('catch up 1', 0.5, 600),
	confirmed_job('catch up 2', 0.5, 1),
	confirmed_job('catch up 3', 1, 600));
$node->poll_query_until('postgres',
	"SELECT max(end_at) + interval '0.5 s' < clock_timestamp() FROM mojob.job WHERE id = $caught[1]");
is(join(',', map { state_of($_) } @caught),
	'confirmed,confirmed,confirmed',
	'while the worker is stopped, jobs past their start stay confirmed');
my $killed_at = time;
kill 'KILL', $old_worker;

$node->wait_for_log(qr/terminated by signal 9/, $log_offset);
ok(1, 'the postmaster saw the worker die of SIGKILL');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' "
	  . "AND datname = 'postgres' AND pid <> $old_worker")
  or diag('no new mojob scheduler');
my $new_worker = worker_pid();
ok($new_worker =~ /^\d+$/ && $new_worker != $old_worker,
	"a new worker runs (pid $new_worker, was $old_worker)");
isnt(sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'mojob launcher'"),
	$old_launcher, 'the launcher was restarted too');
ok($node->log_contains(qr/all server processes terminated; reinitializing/),
	'the postmaster went through crash recovery');

for my $id (@caught)
{
	$node->poll_query_until('postgres',
		"SELECT state IN ('running', 'completed') FROM mojob.job WHERE id = $id");
}
is(join(',', map { state_of($_) } @caught),
	'running,completed,running',
	'the new worker caught up the jobs that fell due meanwhile');
is(history($caught[1]),
	'tentative>confirmed user, confirmed>running time, running>completed time',
	'a job whose start and end both passed went to running and completed by time');
is( sql(
		"SELECT count(*) FROM mojob.job_event WHERE job_id IN (" . join(',', @caught)
		  . ") AND cause = 'time' AND at > (SELECT backend_start FROM pg_stat_activity WHERE pid = $new_worker)"
	),
	'4',
	'the catch-up transitions were made after the new worker started');
my $catchup = time - $killed_at;
ok($catchup < 30, sprintf('caught up %.1f s after the kill', $catchup));

# The new worker also wakes on commit.
wait_worker_sleeping();
my $after = confirmed_job('after restart', 2, 60);
wait_state($after, 'running');
$late = lateness($after, 'confirmed');
ok($late >= 0 && $late < 0.5,
	"after the restart, a job confirmed to start in 2 s started within 500 ms (lateness $late s)");

is(mojob_errors($node), '', 'no mojob process logged an error');

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
