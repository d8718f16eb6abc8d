# Data survives a crash (docs/design.md sections 4 and 8): a crash (kill -9 of
# the server) in the middle of reservations loses no committed booking or
# history row, and leaves no over-booking.
#
# Two clients (two psql processes, each its own session) reserve jobs in a
# loop on a small set of resources -- concurrency 1 to 3, one with a
# capacity -- with random windows over 30 days, so that many attempts
# overlap and are refused (MJ005).  Each attempt is one transaction, made
# in one of three ways:
#   0. mojob.create_job(..., state => 'tentative', resources => ...);
#   1. mojob.create_job(...) as a draft, then mojob.reserve(job);
#   2. a tentative job with one or two resources, then
#      mojob.add_resource(job, 'link', amount) (capacity 10).
# psql prints the job's code inside the transaction and the command tag
# COMMIT only once the server acknowledged the commit: a reservation counts
# as acknowledged only then.
#
# Mid-run the whole server is killed with SIGKILL: the postmaster and every
# child process are stopped (SIGSTOP, so none can react) and then killed at
# once, so transactions die wherever they are.  After a restart (crash
# recovery from WAL), the test checks:
#   - every acknowledged reservation is there: the job exists, with its
#     code and name, tentative, with the nodes it asked for, and each
#     resolved node has its row in mojob.booking for its window;
#   - no other job exists than those, except the at most one attempt per
#     client that was in flight when the server died (committed or not);
#   - mojob.booking is exactly the windows of the holding jobs' nodes;
#   - no resource is over-booked: the peak of holding bookings and of their
#     amounts at any instant, per resource, computed here by plain SQL over
#     mojob.job_resource JOIN mojob.job (not with mojob's functions), is
#     within its concurrency and capacity;
#   - history: every job's last mojob.job_event row (max id) matches its
#     state; a job created tentative has none (its state is its initial
#     state), one made draft and reserved has exactly draft > tentative; no
#     history row belongs to a job that does not exist;
#   - after recovery mojob still refuses a conflicting reservation (MJ005).
#
# Commits are synchronous (synchronous_commit = on, PostgreSQL's default):
# the COMMIT tag is sent after the commit's WAL was written.  The cluster
# runs with fsync = off, as every test cluster does: that does not weaken a
# test of a process kill (what was written reaches the kernel, which
# survives), only of a power loss, which is not what is tested here.
#
# The random windows come from a seed printed by the test; set
# MOJOB_CRASH_SEED to replay one.

use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use MojobInvariants;
use Time::HiRes qw(usleep time);

my $attempts_per_client = 3000;    # more than can run before the kill

my $seed = $ENV{MOJOB_CRASH_SEED} // (time() ^ $$) % 1_000_000;
srand($seed);
note("random seed $seed (MOJOB_CRASH_SEED=$seed replays it)");

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "log_min_error_statement = panic\n");
$node->start;

sub sql
{
	my ($query) = @_;
	return $node->safe_psql('postgres', $query);
}

sql('CREATE EXTENSION mojob CASCADE');
is(sql('SHOW synchronous_commit'), 'on', 'commits are synchronous (the default)');

# Resources: four of concurrency 1, two of concurrency 2, and a link of
# concurrency 3 and capacity 10 that variant 2 books amounts of.
sql(q{INSERT INTO mojob.resource (name, concurrency, capacity) VALUES
	('studio 1', 1, NULL), ('studio 2', 1, NULL), ('camera 1', 1, NULL), ('camera 2', 1, NULL),
	('encoder 1', 2, NULL), ('encoder 2', 2, NULL), ('link', 3, 10)});
my %rid = map { split /\|/ } split /\n/, sql('SELECT name, id FROM mojob.resource');
my @plain = map { $rid{$_} } ('studio 1', 'studio 2', 'camera 1', 'camera 2', 'encoder 1', 'encoder 2');
my $link = $rid{link};

# ---------------------------------------------------------------------
# The clients' scripts
# ---------------------------------------------------------------------

my $base = q{timestamptz '2031-03-02 00:00+00'};
my %expect;    # job name => { variant, resources => [ids], amount }

sub attempt
{
	my ($client, $i) = @_;
	my $name = sprintf('c%d-%04d', $client, $i);

	# Five-minute slots, so that windows often touch exactly (which is not
	# an overlap: [from, until) is half-open).
	my $start   = 5 * int(rand(30 * 24 * 12));
	my $len     = 5 * (6 + int(rand(43)));
	my $pre     = 5 * int(rand(7));
	my $post    = 5 * int(rand(7));
	my $variant = int(rand(10));
	$variant = $variant < 4 ? 0 : $variant < 7 ? 1 : 2;

	my %pick;
	my $n = 1 + int(rand(2));
	$pick{ $plain[ int(rand(@plain)) ] } = 1 while keys %pick < $n;
	my @res = sort { $a <=> $b } keys %pick;
	my $array = 'ARRAY[' . join(',', @res) . ']::bigint[]';
	my $window =
		"'$name', $base + interval '$start minutes', $base + interval '"
	  . ($start + $len)
	  . " minutes', interval '$pre minutes', interval '$post minutes'";

	my $amount;
	my $body;
	if ($variant == 0)
	{
		$body =
		  "SELECT 'JOB ' || name || ' ' || code FROM mojob.create_job($window, state => 'tentative', resources => $array);\n";
	}
	elsif ($variant == 1)
	{
		$body =
		    "SELECT id AS jid FROM mojob.create_job($window, resources => $array) \\gset\n"
		  . "SELECT 'JOB ' || name || ' ' || code FROM mojob.reserve(:jid);\n";
	}
	else
	{
		$amount = 1 + int(rand(6));
		$body =
		    "SELECT id AS jid FROM mojob.create_job($window, state => 'tentative', resources => $array) \\gset\n"
		  . "SELECT amount FROM mojob.add_resource(:jid, $link, $amount) \\gset\n"
		  . "SELECT 'JOB ' || name || ' ' || code FROM mojob.job WHERE id = :jid;\n";
		push @res, $link;
	}
	$expect{$name} = { variant => $variant, resources => \@res, amount => $amount };
	return "BEGIN;\n$body" . "COMMIT;\n";
}

my $dir = PostgreSQL::Test::Utils::tempdir;
my @clients;
for my $c (1, 2)
{
	my $script = "$dir/client$c.sql";
	open my $fh, '>', $script or die "cannot write $script: $!";
	print $fh "\\set VERBOSITY sqlstate\n";
	print $fh attempt($c, $_) for 1 .. $attempts_per_client;
	close $fh;
	push @clients, { id => $c, script => $script, out => "$dir/client$c.out", err => "$dir/client$c.err" };
}

# ---------------------------------------------------------------------
# Run them, and kill the server mid-run
# ---------------------------------------------------------------------

my $kill_at = 300 + int(rand(201));    # jobs committed before the kill
note("the server is killed once $kill_at jobs exist");

for my $c (@clients)
{
	$c->{h} = IPC::Run::start(
		[ 'psql', '-X', '-A', '-t', '-d', $node->connstr('postgres') ],
		'<', $c->{script}, '>', $c->{out}, '2>', $c->{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
}

my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
my $jobs_before = 0;
while (time < $deadline)
{
	$jobs_before = sql('SELECT count(*) FROM mojob.job');
	last if $jobs_before >= $kill_at;
	usleep(20_000);
}
cmp_ok($jobs_before, '>=', $kill_at, "the clients had committed $jobs_before jobs when the kill was decided");

# The pids of the postmaster's children, from /proc.
sub children_of
{
	my ($parent) = @_;
	my @kids;
	opendir my $proc, '/proc' or die "cannot read /proc: $!";
	for my $pid (grep { /^\d+$/ } readdir $proc)
	{
		open my $fh, '<', "/proc/$pid/stat" or next;
		my $stat = <$fh>;
		close $fh;
		push @kids, $pid if defined $stat && $stat =~ /^\d+ \(.*\) \S (\d+) / && $1 == $parent;
	}
	closedir $proc;
	return @kids;
}

my ($postmaster) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
kill 'STOP', $postmaster;
my @children = children_of($postmaster);
kill 'STOP', @children;
$node->kill9;    # SIGKILL to the postmaster
kill 'KILL', @children;
note(sprintf('killed the postmaster (pid %d) and its %d children with SIGKILL',
		$postmaster, scalar @children));

$_->{h}->finish for @clients;

# The killed processes are reaped by init; until then a zombie postmaster
# still "owns" postmaster.pid.
$deadline = time + $PostgreSQL::Test::Utils::timeout_default;
usleep(100_000) while time < $deadline && grep { kill 0, $_ } $postmaster, @children;
ok(!(grep { kill 0, $_ } $postmaster, @children), 'every server process is gone');

# ---------------------------------------------------------------------
# What the clients saw
# ---------------------------------------------------------------------

my %acked;        # job name => code
my %in_flight;    # attempts begun but neither committed nor rolled back
my ($begun, $refused) = (0, 0);
my %sqlstates;
for my $c (@clients)
{
	my ($pending, $open);
	my $n = 0;
	for my $line (split /\n/, slurp_file($c->{out}))
	{
		if ($line eq 'BEGIN')
		{
			$n++;
			$open    = sprintf('c%d-%04d', $c->{id}, $n);
			$pending = undef;
		}
		elsif ($line =~ /^JOB (\S+) (\S+)$/)
		{
			$pending = [ $1, $2 ];
		}
		elsif ($line eq 'COMMIT')
		{
			die "COMMIT without a job in client $c->{id}, attempt $n" unless $pending;
			die "job $pending->[0] printed in attempt $open" unless $pending->[0] eq $open;
			$acked{ $pending->[0] } = $pending->[1];
			($pending, $open) = (undef, undef);
		}
		elsif ($line eq 'ROLLBACK')
		{
			$refused++;
			($pending, $open) = (undef, undef);
		}
	}
	$begun += $n;
	$in_flight{$open} = 1 if defined $open;
	cmp_ok($n, '<', $attempts_per_client, "client $c->{id} was killed mid-run, in its attempt $n");

	my $err = slurp_file($c->{err});
	$sqlstates{$1}++ while $err =~ /ERROR:\s+([0-9A-Z]{5})$/mg;
	like($err, qr/server closed the connection unexpectedly|connection to server was lost/,
		"client $c->{id} lost its connection when the server died");
}
my $acked = keys %acked;
note("$begun attempts, $acked reservations acknowledged, $refused refused, "
	  . scalar(keys %in_flight) . ' in flight at the kill; errors by SQLSTATE: '
	  . join(', ', map { "$_ x $sqlstates{$_}" } sort keys %sqlstates));
cmp_ok($acked, '>=', 200, 'hundreds of reservations were acknowledged');
ok($refused > 0, 'some attempts were refused (the windows overlapped)');
is(join(',', grep { $_ ne 'MJ005' && $_ ne '25P02' } sort keys %sqlstates),
	'', 'the only errors were MJ005 conflicts (and the statements after them): no deadlock');

# ---------------------------------------------------------------------
# Restart: crash recovery
# ---------------------------------------------------------------------

$node->start;
ok($node->log_contains(qr/database system was interrupted|not properly shut down; automatic recovery in progress/),
	'the server went through crash recovery');

# The acknowledged reservations, as a table to join with.
sql('CREATE SCHEMA crash_check');
sql('CREATE TABLE crash_check.ack (name text PRIMARY KEY, code text NOT NULL, variant int NOT NULL, '
	  . 'resources bigint[] NOT NULL, link_amount numeric)');
my @rows = map {
	my $e = $expect{$_};
	sprintf("('%s', '%s', %d, '{%s}', %s)", $_, $acked{$_}, $e->{variant},
		join(',', @{ $e->{resources} }), $e->{amount} // 'NULL')
} sort keys %acked;
while (my @chunk = splice @rows, 0, 500)
{
	sql('INSERT INTO crash_check.ack VALUES ' . join(', ', @chunk));
}
is(sql('SELECT count(*) FROM crash_check.ack'), $acked, "$acked acknowledged reservations to look for");

# Every acknowledged reservation survived.
my $lost = sql(q{
	SELECT string_agg(a.name || ' ' || a.code, ', ' ORDER BY a.name) FROM crash_check.ack a
	WHERE NOT EXISTS (SELECT FROM mojob.job j
	                  WHERE j.code = a.code AND j.name = a.name AND j.state = 'tentative')});
is($lost, '', 'every acknowledged reservation is there: its job, with its code and name, tentative');

my $survived = sql(q{
	SELECT count(*) FROM crash_check.ack a JOIN mojob.job j ON j.code = a.code AND j.name = a.name
	WHERE j.state = 'tentative'});
note("$acked reservations acknowledged, $survived survived the crash");
is($survived, $acked, "all $acked acknowledged reservations survived the kill -9");

is( sql(q{
	SELECT string_agg(a.name, ', ' ORDER BY a.name) FROM crash_check.ack a JOIN mojob.job j ON j.code = a.code
	WHERE ARRAY(SELECT n.resource_id FROM mojob.job_resource n WHERE n.job_id = j.id ORDER BY 1)
	      IS DISTINCT FROM ARRAY(SELECT x FROM unnest(a.resources) x ORDER BY 1)
	   OR (a.link_amount IS NOT NULL
	       AND (SELECT n.amount FROM mojob.job_resource n
	            WHERE n.job_id = j.id AND n.resource_id = } . $link . q{) IS DISTINCT FROM a.link_amount)}),
	'',
	'each acknowledged job has exactly the nodes it reserved (and the amount of the link)');

is( sql(q{
	SELECT string_agg(a.name || ' node ' || n.id, ', ') FROM crash_check.ack a
	JOIN mojob.job j ON j.code = a.code
	JOIN mojob.job_resource n ON n.job_id = j.id AND n.resource_id IS NOT NULL
	WHERE NOT EXISTS (
	    SELECT FROM mojob.booking b
	    WHERE b.node_id = n.id AND b.job_id = j.id AND b.resource_id = n.resource_id
	      AND b.held = tstzrange(coalesce(n.held_from, j.pre_roll_start), coalesce(n.held_until, j.post_roll_end))
	      AND b.amount = n.amount)}),
	'',
	'each resolved node of an acknowledged job has its row in mojob.booking, for its window');

# No job but those, and the attempts in flight.
my @unacked = grep { !exists $acked{$_} } split /\n/, sql('SELECT name FROM mojob.job ORDER BY name');
is(join(', ', grep { !$in_flight{$_} } @unacked),
	'', 'no other job exists: the refused attempts left nothing behind');
note(scalar(@unacked) . ' of the ' . scalar(keys %in_flight)
	  . ' transactions in flight at the kill committed without the client hearing it');

# The bookings are exactly the windows of the holding jobs' nodes.
is( sql(q{
	WITH derived AS (
	    SELECT n.id AS node_id, n.job_id, n.resource_id,
	           tstzrange(coalesce(n.held_from, j.pre_roll_start), coalesce(n.held_until, j.post_roll_end)) AS held,
	           n.amount
	    FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
	    WHERE n.resource_id IS NOT NULL AND j.state IN ('tentative', 'confirmed', 'running', 'completed'))
	SELECT count(*) FROM (
	    (SELECT * FROM derived EXCEPT SELECT node_id, job_id, resource_id, held, amount FROM mojob.booking)
	    UNION ALL
	    (SELECT node_id, job_id, resource_id, held, amount FROM mojob.booking EXCEPT SELECT * FROM derived)) d}),
	'0',
	'mojob.booking holds exactly the windows of the holding jobs\' nodes');

# No over-booking: the peak per resource, by a sweep in plain SQL.  At an
# instant where bookings end and others begin, the ends count first (the
# windows are half-open): the net change at each instant is summed before
# the running total.
my $peaks = sql(q{
	WITH holds AS (
	    SELECT n.resource_id,
	           coalesce(n.held_from, j.pre_roll_start) AS lo,
	           coalesce(n.held_until, j.post_roll_end) AS hi,
	           n.amount
	    FROM mojob.job_resource n JOIN mojob.job j ON j.id = n.job_id
	    WHERE n.resource_id IS NOT NULL
	      AND (j.state IN ('tentative', 'confirmed', 'running')
	           OR (j.state = 'completed' AND j.post_roll_end > now()))),
	deltas AS (
	    SELECT resource_id, t, sum(d) AS d, sum(a) AS a FROM (
	        SELECT resource_id, lo AS t, 1 AS d, amount AS a FROM holds WHERE lo < hi
	        UNION ALL
	        SELECT resource_id, hi, -1, -amount FROM holds WHERE lo < hi) e
	    GROUP BY resource_id, t),
	running AS (
	    SELECT resource_id,
	           sum(d) OVER (PARTITION BY resource_id ORDER BY t) AS jobs,
	           sum(a) OVER (PARTITION BY resource_id ORDER BY t) AS amount
	    FROM deltas)
	SELECT r.name, r.concurrency, coalesce(r.capacity::text, '-'),
	       coalesce(max(u.jobs), 0), coalesce(max(u.amount), 0),
	       coalesce(max(u.jobs), 0) <= r.concurrency
	         AND (r.capacity IS NULL OR coalesce(max(u.amount), 0) <= r.capacity)
	FROM mojob.resource r LEFT JOIN running u ON u.resource_id = r.id
	GROUP BY r.id ORDER BY r.name});
my @over;
for my $line (split /\n/, $peaks)
{
	my ($name, $concurrency, $capacity, $jobs, $amount, $ok) = split /\|/, $line;
	note("$name: concurrency $concurrency, capacity $capacity; peak $jobs jobs, amount $amount");
	push @over, $name if $ok ne 't';
}
is(join(', ', @over), '', 'no resource is over-booked at any instant');
my $bookings = sql('SELECT count(*) FROM mojob.booking');
cmp_ok($bookings, '>=', $acked, "$bookings bookings were checked");

# History.
is( sql(q{
	SELECT count(*) FROM mojob.job j
	LEFT JOIN LATERAL (SELECT e.to_state FROM mojob.job_event e WHERE e.job_id = j.id
	                   ORDER BY e.id DESC LIMIT 1) e ON true
	WHERE CASE WHEN e.to_state IS NULL THEN j.state NOT IN ('draft', 'tentative')
	           ELSE e.to_state <> j.state END}),
	'0',
	'every job\'s last history row matches its state (a job without history is in an initial state)');
is( sql(q{
	SELECT string_agg(a.name, ', ' ORDER BY a.name) FROM crash_check.ack a JOIN mojob.job j ON j.code = a.code
	WHERE (SELECT string_agg(e.from_state || '>' || e.to_state || ' ' || e.cause, ', ' ORDER BY e.id)
	       FROM mojob.job_event e WHERE e.job_id = j.id)
	      IS DISTINCT FROM CASE WHEN a.variant = 1 THEN 'draft>tentative user' END}),
	'',
	'a job reserved from draft has the one history row draft > tentative; one created tentative has none');
is(sql('SELECT count(*) FROM mojob.job_event e WHERE NOT EXISTS (SELECT FROM mojob.job j WHERE j.id = e.job_id)'),
	'0', 'no history row of a transaction that did not commit');

# Life goes on: an acknowledged booking of a resource of concurrency 1
# still refuses a job over the same window.
my ($held_job, $held_resource) = split /\|/, sql(q{
	SELECT b.job_id, b.resource_id FROM mojob.booking b JOIN mojob.resource r ON r.id = b.resource_id
	JOIN mojob.job j ON j.id = b.job_id JOIN crash_check.ack a ON a.code = j.code
	WHERE r.concurrency = 1 ORDER BY b.node_id LIMIT 1});
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT mojob.create_job('after the crash', j.start_at, j.end_at, state => 'tentative', "
	  . "resources => ARRAY[$held_resource]::bigint[]) FROM mojob.job j WHERE j.id = $held_job",
	extra_params => [ '-v', 'VERBOSITY=sqlstate' ]);
like($err, qr/ERROR:\s+MJ005/, 'after recovery, a reservation over a surviving booking is refused (MJ005)');

# The invariants hold at the end, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($node);

$node->stop;
done_testing();
