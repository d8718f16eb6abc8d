# The scheduler on a streaming standby (docs/design.md section 2: no
# launcher on a standby, one at once after a promotion): no mojob process runs there and nothing advances
# on it, while its tables and views answer; once promoted, its due jobs
# advance by time.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use MojobInvariants;
use Time::HiRes qw(usleep time);

my $conf = "shared_preload_libraries = 'mojob'\nmojob.database = 'postgres'\n";

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $conf);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION mojob CASCADE');

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', $conf);
$standby->start;

# A tentative job on $node starting $start seconds from now, confirmed in a
# second transaction; returns its id.
sub confirmed_job
{
	my ($node, $name, $start, $end) = @_;
	my $id = $node->safe_psql('postgres',
		"SELECT id FROM mojob.create_job('$name', clock_timestamp() + interval '$start s', "
		  . "clock_timestamp() + interval '$end s', state => 'tentative')");
	$node->safe_psql('postgres', "SELECT state FROM mojob.confirm($id)");
	return $id;
}

sub mojob_processes
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('mojob launcher', 'mojob scheduler')"
	);
}

sub history
{
	my ($node, $id) = @_;
	return join ', ', split /\n/,
	  $node->safe_psql('postgres',
		"SELECT from_state || '>' || to_state || ' ' || cause FROM mojob.job_event WHERE job_id = $id ORDER BY id"
	  );
}

# ---------------------------------------------------------------------
# While the primary runs: its worker advances, the standby replays
# ---------------------------------------------------------------------

$primary->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type IN ('mojob launcher', 'mojob scheduler')"
) or diag('the primary has no mojob processes');
is(mojob_processes($primary), '2', 'the primary runs a mojob launcher and a mojob scheduler');

my $on_primary = confirmed_job($primary, 'on the primary', 1, 600);
$primary->poll_query_until('postgres',
	"SELECT state = 'running' FROM mojob.job WHERE id = $on_primary");
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT state FROM mojob.job WHERE id = $on_primary"),
	'running', 'the standby replays the transitions the primary\'s worker made');

is(mojob_processes($standby), '0', 'no mojob launcher or scheduler runs on the standby');
ok(!$standby->log_contains(qr/mojob (?:launcher|scheduler) started/),
	'the standby\'s log shows no mojob process started');

# ---------------------------------------------------------------------
# Primary stopped: the jobs fall due on the standby, nothing advances
# ---------------------------------------------------------------------

my $due = confirmed_job($primary, 'due while the primary is down', 1.5, 3);
my $due_later = confirmed_job($primary, 'due after promotion', 600, 700);
$primary->wait_for_catchup($standby);
$primary->stop('immediate');

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
# Wait until the job is past its start and its end (by 2 s).
$standby->poll_query_until('postgres',
	"SELECT end_at + interval '2 s' < clock_timestamp() FROM mojob.job WHERE id = $due");
is($standby->safe_psql('postgres', "SELECT state FROM mojob.job WHERE id = $due"),
	'confirmed', 'on the standby a job past its start and end stays confirmed');
is(history($standby, $due), 'tentative>confirmed user', 'and has no time transition');
is(mojob_processes($standby), '0', 'still no mojob process on the standby');

# The tables and views answer on the standby.
is( $standby->safe_psql('postgres',
		"SELECT count(*) > 0 FROM mojob.state_transitions WHERE cause = 'time'"),
	't',
	'the view mojob.state_transitions answers on the standby');
# Every view of the extension, whichever it has.
my @views = split /\n/,
  $standby->safe_psql('postgres',
	"SELECT quote_ident(schemaname) || '.' || quote_ident(viewname) FROM pg_views WHERE schemaname = 'mojob' ORDER BY 1"
  );
my @broken;
for my $view (@views)
{
	my ($vret, $vout, $verr) = $standby->psql('postgres', "SELECT count(*) FROM $view");
	push @broken, "$view: $verr" if $vret != 0;
}
is(join("\n", @broken), '', 'every view of mojob answers on the standby (' . join(', ', @views) . ')');
is($standby->safe_psql('postgres', "SELECT count(*) FROM mojob.job WHERE id IN ($due, $due_later)"),
	'2', 'mojob.job answers on the standby');
is( $standby->safe_psql('postgres',
		"SELECT count(*) FROM mojob.job_event WHERE job_id = $on_primary AND cause = 'time'"),
	'1',
	'mojob.job_event answers on the standby');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM mojob.settings'),
	'1', 'mojob.settings answers on the standby');
my ($ret, $out, $err) = $standby->psql('postgres', 'SELECT mojob.advance()');
isnt($ret, 0, 'mojob.advance() on the standby fails');
like($err, qr/read-only/, 'with a read-only error');

# ---------------------------------------------------------------------
# Promotion: the new primary's worker catches up and then keeps time
# ---------------------------------------------------------------------

$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()');
$standby->poll_query_until('postgres',
	"SELECT state = 'completed' FROM mojob.job WHERE id = $due")
  or diag('the job due while the primary was down did not advance after promotion');
is(history($standby, $due),
	'tentative>confirmed user, confirmed>running time, running>completed time',
	'after promotion the job that fell due is caught up by time (running, then completed)');
is( $standby->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = 'postgres'"
	),
	'1',
	'the promoted node runs a mojob scheduler');
is($standby->safe_psql('postgres', "SELECT state FROM mojob.job WHERE id = $due_later"),
	'confirmed', 'a job not yet due stays confirmed');

$standby->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' "
	  . "AND datname = 'postgres' AND wait_event_type = 'Extension'");
my $new = confirmed_job($standby, 'on the promoted node', 2, 600);
$standby->poll_query_until('postgres', "SELECT state = 'running' FROM mojob.job WHERE id = $new");
my $late = $standby->safe_psql('postgres',
	"SELECT extract(epoch FROM e.at - j.start_at) FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id "
	  . "WHERE e.job_id = $new AND e.from_state = 'confirmed' AND e.cause = 'time'");
ok($late ne '' && $late >= 0 && $late < 0.5,
	"on the promoted node a job confirmed to start in 2 s starts within 500 ms (lateness $late s)");

is(mojob_errors($primary), '', 'no mojob process of the primary logged an error');
is(mojob_errors($standby), '', 'no mojob process logged an error');

# The invariants hold at the end, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($standby);

$standby->stop;
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
