# The scheduler catches up a backlog (src/scheduler.c): 10,000 confirmed
# jobs whose start has passed (half of them whose end has passed too) are
# all moved once the scheduler is turned on, in transactions of at most
# mojob.batch_size jobs each, within a reasonable time.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use MojobInvariants;
use Time::HiRes qw(time);

my $jobs  = 10_000;
my $batch = 500;

my $node = PostgreSQL::Test::Cluster->new('backlog');
$node->init;
$node->append_conf('postgresql.conf',
	    "shared_preload_libraries = 'mojob'\nmojob.database = 'postgres'\n"
	  . "mojob.batch_size = $batch\nmojob.scheduler = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mojob CASCADE');

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = 'postgres'"
) or diag('no mojob scheduler');

# The table's owner may insert jobs in any state (as a restore does).  Odd
# jobs have ended already (they go to running, then completed), even ones
# end in an hour (they go to running).
my $t0 = time;
sql("INSERT INTO mojob.job (name, state, start_at, end_at) "
	  . "SELECT 'backlog ' || i, 'confirmed', now() - interval '2 hours' + i * interval '1 ms', "
	  . "CASE WHEN i % 2 = 1 THEN now() - interval '1 hour' ELSE now() + interval '1 hour' END "
	  . "FROM generate_series(1, $jobs) i");
note(sprintf('inserted %d jobs in %.1f s', $jobs, time - $t0));
is(sql("SELECT count(*) FROM mojob.job WHERE state = 'confirmed' AND start_at < now()"),
	$jobs, "$jobs overdue confirmed jobs, with mojob.scheduler = off");
is(sql('SELECT count(*) FROM mojob.job_event'), '0', 'no history yet');

my $on_at = sql('SELECT clock_timestamp()');
my $started = time;
sql('ALTER SYSTEM SET mojob.scheduler = on');
sql('SELECT pg_reload_conf()');
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM mojob.job WHERE (state = 'confirmed' AND start_at <= '$on_at') "
	  . "OR (state = 'running' AND end_at <= '$on_at')")
  or diag('the backlog was not caught up');
my $elapsed = time - $started;

is( sql("SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM "
		  . "(SELECT state, count(*) AS n FROM mojob.job GROUP BY state) s"),
	sprintf('running %d, completed %d', $jobs / 2, $jobs / 2),
	'every overdue job advanced: those whose end passed completed, the others run');
is( sql("SELECT count(*) FROM mojob.job_event WHERE cause = 'time' AND at >= '$on_at'"),
	$jobs / 2 * 3,
	'one time transition per job, two for those whose end passed, all after the scheduler was turned on'
);
is(sql("SELECT count(*) FROM mojob.job_event WHERE cause <> 'time'"),
	'0', 'no other transition');
ok($elapsed < 90, sprintf('caught up %d jobs in %.1f s', $jobs, $elapsed));

# Bounded batches.  updated_at is the transaction's start time, so it tells
# the worker's transactions apart; job_event.xmin tells its
# (sub)transactions apart.
my ($transactions, $largest) = split /\|/,
  sql("SELECT count(*), max(n) FROM (SELECT updated_at, count(*) AS n FROM mojob.job GROUP BY updated_at) t"
  );
cmp_ok($transactions, '>=', $jobs / $batch,
	"the jobs were moved by at least $jobs / $batch transactions ($transactions)");
cmp_ok($largest, '<=', $batch,
	"no transaction moved more than mojob.batch_size = $batch jobs (the largest moved $largest)");
my ($xids, $largest_xid) = split /\|/,
  sql("SELECT count(*), max(n) FROM (SELECT xmin::text, count(DISTINCT job_id) AS n FROM mojob.job_event GROUP BY 1) t"
  );
cmp_ok($xids, '>=', $jobs / $batch, "the history rows were written by $xids transactions");
cmp_ok($largest_xid, '<=', $batch, "each for at most $batch jobs (the largest for $largest_xid)");

# The worker keeps time afterwards.
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' "
	  . "AND datname = 'postgres' AND wait_event_type = 'Extension'");
my $id = sql("SELECT id FROM mojob.create_job('after the backlog', clock_timestamp() + interval '2 s', "
	  . "clock_timestamp() + interval '600 s', state => 'tentative')");
sql("SELECT state FROM mojob.confirm($id)");
$node->poll_query_until('postgres', "SELECT state = 'running' FROM mojob.job WHERE id = $id");
my $late = sql("SELECT extract(epoch FROM e.at - j.start_at) FROM mojob.job_event e "
	  . "JOIN mojob.job j ON j.id = e.job_id WHERE e.job_id = $id AND e.cause = 'time'");
ok($late ne '' && $late >= 0 && $late < 0.5,
	"after the backlog a job confirmed to start in 2 s starts within 500 ms (lateness $late s)");

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
