# The scheduler keeps time against what users do (README.md, "Guarantees"):
#
#  1. no lock a user session holds delays an unrelated job's time
#     transition by a second or more: a series row held FOR UPDATE by a
#     planner, a resource row held FOR UPDATE, an uncommitted booking (a
#     planner's reservation left open), job rows held FOR UPDATE.  The
#     worker is restarted while each lock is held, so that its first pass
#     runs the daily extension of the recurrences, which meets the series
#     and resource locks; the extension is retried with back-off and logged
#     once;
#  2. 2,000 due jobs that a site's trigger refuses to start: a normal job
#     due half a second after them starts within a second, the log has a
#     few lines, and the refused jobs are set aside (not retried in a loop);
#  3. jobs written the way a restore writes them (the owner's INSERT and
#     COPY, confirmed) wake the worker for their due times;
#  4. a notification queue fuller than mojob.notify_queue_limit (filled
#     for real by a role listening in a transaction left open; the limit is
#     lowered so that a few hundred kilobytes exceed it): transitions by
#     users and by the worker commit, mojob's notifications are dropped and
#     that is logged once; once the queue drains they are sent again.  With
#     MOJOB_TEST_FULL_NOTIFY_QUEUE=1 in the environment, the queue is also
#     filled to PostgreSQL's own limit (8 GB of disk, a minute or more) at
#     the default mojob.notify_queue_limit;
#  5. mojob.database names are identifiers: "Broadcast" (quoted) is served;
#     Studio (unquoted, so studio) is reported as missing, naming the
#     database "Studio" that exists and how to quote it; nosuchdb is
#     reported as missing.
#
# Lateness is the history row's "at" minus the due instant.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MojobInvariants;
use Time::HiRes qw(usleep time);

my $node = PostgreSQL::Test::Cluster->new('locks');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'mojob'\nmojob.database = 'postgres'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mojob CASCADE');

sub sql
{
	my ($query, $db) = @_;
	return $node->safe_psql($db // 'postgres', $query);
}

# The README's roles, and one that may lock resource rows (a site's
# resource manager: UPDATE on mojob.resource).
sql(q{
	CREATE ROLE mojob_viewer NOLOGIN;
	GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
	GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
	CREATE ROLE mojob_planner NOLOGIN IN ROLE mojob_viewer;
	GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
	      mojob.recurrence, mojob.recurrence_conflict TO mojob_planner;
	GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner;
	CREATE ROLE planner LOGIN IN ROLE mojob_planner;
	CREATE ROLE resources LOGIN IN ROLE mojob_viewer;
	GRANT UPDATE ON mojob.resource TO resources;
	INSERT INTO mojob.resource (id, name) VALUES (1, 'studio');
});

# A daily series on the studio, from tomorrow, with a 3-day horizon.
my $series = sql(q{
	SELECT (mojob.make_recurring(
		(mojob.create_job('daily show', date_trunc('hour', now()) + interval '1 day',
		                  date_trunc('hour', now()) + interval '1 day 1 hour',
		                  state => 'tentative', resources => '{1}')).id,
		'FREQ=DAILY', 'UTC', '3 days')).id});
my $template = sql("SELECT template_job FROM mojob.recurrence WHERE id = $series");

# A tentative job starting $start seconds from now, confirmed in a second
# transaction; returns its id.
sub confirmed_job
{
	my ($name, $start, $end, $db) = @_;
	my $id = sql(
		"SELECT id FROM mojob.create_job('$name', clock_timestamp() + interval '$start s', "
		  . "clock_timestamp() + interval '$end s', state => 'tentative')", $db);
	sql("SELECT state FROM mojob.confirm($id)", $db);
	return $id;
}

sub state_of
{
	my ($id, $db) = @_;
	return sql("SELECT state FROM mojob.job WHERE id = $id", $db);
}

# Wait until job $id is in $state, for at most $secs seconds.
sub wait_state_within
{
	my ($id, $state, $secs, $db) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		return 1 if state_of($id, $db) eq $state;
		usleep(50_000);
	}
	return 0;
}

sub start_lateness
{
	my ($id, $db) = @_;
	return sql(
		"SELECT extract(epoch FROM e.at - j.start_at) FROM mojob.job_event e JOIN mojob.job j ON j.id = e.job_id "
		  . "WHERE e.job_id = $id AND e.from_state = 'confirmed' AND e.cause = 'time'", $db);
}

sub worker_pid
{
	my ($db) = @_;
	$db //= 'postgres';
	return sql(
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = '$db'");
}

# Wait until the worker sleeps (between its passes).
sub wait_sleeping
{
	$node->poll_query_until('postgres',
		"SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE backend_type = 'mojob scheduler' AND datname = 'postgres'"
	) or die 'the worker does not sleep';
	return;
}

# How many lines of the server log, from byte $from on, match $re.
sub log_count
{
	my ($re, $from) = @_;
	my $log = slurp_file($node->logfile);
	$log = substr($log, $from // 0);
	my $n = () = $log =~ /$re/gm;
	return $n;
}

sub log_size
{
	return -s $node->logfile;
}

# ---------------------------------------------------------------------
# 3. Jobs written as a restore writes them wake the worker
# ---------------------------------------------------------------------

# The worker sleeps towards a due time an hour away.
confirmed_job('far', 3600, 7200);
wait_sleeping();
my $inserted = sql(q{
	INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
	SELECT 'restored by INSERT', 'confirmed', t, t, t + interval '10 minutes', t + interval '10 minutes'
	FROM (SELECT clock_timestamp() + interval '2 s' AS t) s
	RETURNING id});
ok(wait_state_within($inserted, 'running', 10),
	'a confirmed job inserted by the owner (as pg_restore does) starts by time');
my $late = start_lateness($inserted);
ok($late ne '' && $late >= 0 && $late < 1,
	'within a second of its start: the INSERT woke the worker (lateness ' . ($late || 'none') . ' s)');

wait_sleeping();
my ($t0, $t1) = split /\|/,
  sql("SELECT clock_timestamp() + interval '2 s', clock_timestamp() + interval '1 hour'");
sql("COPY mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end) FROM stdin;\n"
	  . "restored by COPY\tconfirmed\t$t0\t$t0\t$t1\t$t1\n\\.\n");
my $copied = sql("SELECT id FROM mojob.job WHERE name = 'restored by COPY'");
ok(wait_state_within($copied, 'running', 10), 'so does one written by COPY');
$late = start_lateness($copied);
ok($late ne '' && $late >= 0 && $late < 1,
	'within a second of its start: the COPY woke the worker (lateness ' . ($late || 'none') . ' s)');

# ---------------------------------------------------------------------
# 1. Locks users hold
# ---------------------------------------------------------------------

# Restart the worker (its first pass extends the recurrences): terminate
# it and wait for the launcher's new one.
sub restart_worker
{
	my $old = worker_pid();
	sql("SELECT pg_terminate_backend($old)");
	my $deadline = time + 30;
	while (time < $deadline)
	{
		my $pid = worker_pid();
		return $pid if $pid =~ /^\d+$/ && $pid ne $old;
		usleep(100_000);
	}
	die 'no new worker';
}

# The series another session holds is skipped; one whose instance would
# wait on a held resource fails on the worker's lock timeout: either way the
# worker says so once, and tries again after a back-off.
my $re_extension = qr/mojob scheduler: 1 recurrence\(s\) cannot be extended now; retrying in \d+ s: (?:canceling statement due to lock timeout|their rows are locked by other sessions)/;

# Give the extension work (the owner widens the horizon), hold a lock in a
# session of $role ($take: statements after BEGIN), restart the worker,
# and time a job due 3 s later.  Returns its lateness.
sub lateness_while_held
{
	my ($label, $role, $take, $also_due) = @_;
	sql("UPDATE mojob.recurrence SET horizon = horizon + interval '2 days' WHERE id = $series");
	my $holder = $node->background_psql('postgres', on_error_stop => 1,
		extra_params => [ '-U', $role ]);
	$holder->query_safe('BEGIN');
	$holder->query_safe($_) for @$take;
	restart_worker();
	my $job = confirmed_job("unrelated to the $label", 3, 600);
	my $on_time = wait_state_within($job, 'running', 8);
	if (defined $also_due)
	{
		is(state_of($also_due), 'confirmed', "the due job whose row is held stays confirmed ($label)");
	}
	$holder->query_safe('ROLLBACK');
	$holder->quit;
	wait_state_within($job, 'running', 60);
	my $late = start_lateness($job);
	ok($on_time && $late ne '' && $late >= 0 && $late < 1,
		"$label: an unrelated job starts within a second (lateness " . ($late eq '' ? 'none' : "$late s") . ')');
	return $late;
}

my $from = log_size();
my @lates;
push @lates, lateness_while_held('series row held FOR UPDATE by a planner', 'planner',
	["SELECT id FROM mojob.recurrence WHERE id = $series FOR UPDATE"]);
push @lates, lateness_while_held('resource row held FOR UPDATE', 'resources',
	['SELECT id FROM mojob.resource WHERE id = 1 FOR UPDATE']);
push @lates, lateness_while_held('uncommitted booking', 'planner',
	[ "SELECT mojob.create_job('booked, not committed', now() + interval '20 days', "
		  . "now() + interval '20 days 1 hour', state => 'tentative', resources => '{1}')" ]);
is(log_count($re_extension, $from), 3,
	'each time, the extension met the lock, timed out and was logged once');
# The series left as it was is tried again after a back-off, not a day later.
{
	my $deadline = time + 15;
	my $done = 0;
	while (!$done && time < $deadline)
	{
		$done = sql("SELECT extended_until >= now() + horizon - interval '30 seconds' FROM mojob.recurrence WHERE id = $series") eq 't';
		usleep(200_000) unless $done;
	}
	ok($done, 'once the lock is gone, the worker extends the series within seconds');
}

my $held_due = confirmed_job('due, row held', 3, 600);
push @lates, lateness_while_held('job rows held FOR UPDATE by a planner (the series template, a due job)',
	'planner', ["SELECT id FROM mojob.job WHERE id IN ($template, $held_due) FOR UPDATE"], $held_due);
ok(wait_state_within($held_due, 'running', 10), 'the held job starts once its row is free');
diag('lateness under held locks (s): ' . join(', ', @lates));

# The extension, retried with back-off, catches up once the locks are gone.
ok($node->poll_query_until('postgres',
		"SELECT extended_until > now() + horizon - interval '1 day' FROM mojob.recurrence WHERE id = $series"),
	'the extension was retried and made the instances once the locks were released');
is(sql(q{SELECT count(*) FROM mojob.job WHERE recurrence_id IS NOT NULL
          AND state = 'tentative' AND NOT EXISTS (SELECT FROM mojob.booking b WHERE b.job_id = job.id)}),
	'0', 'the instances it made hold the studio');

# ---------------------------------------------------------------------
# 2. Many due jobs a site's trigger refuses
# ---------------------------------------------------------------------

sql(q{
	CREATE SEQUENCE public.refusals;
	CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.name LIKE 'refused %' AND NEW.state = 'running' THEN
			PERFORM nextval('public.refusals');
			RAISE EXCEPTION 'site rule: % may not start', NEW.name;
		END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER aa_refuse BEFORE UPDATE ON mojob.job
		FOR EACH ROW EXECUTE FUNCTION public.refuse()});
wait_sleeping();
$from = log_size();
my $normal = sql(q{
	WITH t AS (SELECT clock_timestamp() + interval '3 s' AS t),
	refused AS (
		INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
		SELECT 'refused ' || i, 'confirmed', t, t, t + interval '1 hour', t + interval '1 hour'
		FROM t, generate_series(1, 2000) i)
	SELECT id FROM t, mojob.create_job('after the refused', t + interval '0.5 s', t + interval '1 hour',
	                                   state => 'tentative')});
sql("SELECT state FROM mojob.confirm($normal)");
ok(wait_state_within($normal, 'running', 30), 'a normal job due after 2,000 refused ones starts');
$late = start_lateness($normal);
ok($late ne '' && $late >= 0 && $late < 1,
	'within a second of its start (lateness ' . ($late eq '' ? 'none' : "$late s") . ')');
is(sql("SELECT count(*) FROM mojob.job WHERE name LIKE 'refused %' AND state = 'confirmed'"),
	'2000', 'the refused jobs stay confirmed');
ok($node->poll_query_until('postgres', 'SELECT last_value >= 2000 FROM public.refusals'),
	'each refused job was tried');
my $tries = sql('SELECT last_value FROM public.refusals');
usleep(3_000_000);
my $more = sql('SELECT last_value FROM public.refusals') - $tries;
is($more, 0, "then set aside, not retried in a loop ($tries tries, then $more in 3 s)");
my $lines = log_count(qr/mojob scheduler: /, $from);
ok($lines <= 10, "the log has a few lines about them ($lines)");
sql(q{
	DROP TRIGGER aa_refuse ON mojob.job;
	SET session_replication_role = replica;
	DELETE FROM mojob.job WHERE name LIKE 'refused %';
	RESET session_replication_role;
});

# ---------------------------------------------------------------------
# 4. A notification queue fuller than mojob.notify_queue_limit
# ---------------------------------------------------------------------

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN mojob');
my @received;

sub collect
{
	my $out = $listener->query_safe('SELECT 1');
	push @received, $1 while $out =~ /Asynchronous notification "mojob" with payload "(.*)" received/g;
	return;
}

sub received_for
{
	my ($id) = @_;
	collect();
	return scalar grep { /"job": $id,/ } @received;
}

# A role that may only connect listens in a transaction it leaves open:
# the queue cannot empty past its position.
sql('CREATE ROLE nobody LOGIN');
my $blocker = $node->background_psql('postgres', extra_params => [ '-U', 'nobody' ]);
$blocker->query_safe('LISTEN filler');
$blocker->query_safe('BEGIN');
$blocker->query_safe('SELECT 1');
sql("ALTER SYSTEM SET mojob.notify_queue_limit = 0.00002");
sql('SELECT pg_reload_conf()');
$node->poll_query_until('postgres', 'SHOW mojob.notify_queue_limit', '2e-05');
$node->safe_psql('postgres',
	"SELECT count(pg_notify('filler', repeat('x', 7000) || i)) FROM generate_series(1, 200) i",
	extra_params => [ '-U', 'nobody' ]);
my $usage = sql('SELECT pg_notification_queue_usage()');
ok($usage > 0.00002, "the queue is fuller than the limit ($usage)");

$from = log_size();
my $draft = sql("SELECT id FROM mojob.create_job('reserved while the queue is full', "
	  . "now() + interval '30 days', now() + interval '30 days 1 hour')");
is($node->safe_psql('postgres', "SELECT state FROM mojob.reserve($draft)", extra_params => [ '-U', 'planner' ]),
	'tentative', "a planner's transition commits");
is(sql("SELECT count(*) FROM mojob.job_event WHERE job_id = $draft"), '1', 'with its history');
my $timed = confirmed_job('started while the queue is full', 2, 600);
ok(wait_state_within($timed, 'running', 10), "the worker's transition commits too");
$late = start_lateness($timed);
ok($late ne '' && $late < 1, "on time (lateness $late s)");
usleep(500_000);
is(received_for($draft) + received_for($timed), 0, 'no notification of theirs was sent');
my $re_dropped = qr/mojob dropped \d+ notifications? on channel "mojob": the notification queue is \d+% full/;
is(log_count($re_dropped, $from), 1, 'the drop is logged, once');

$blocker->query_safe('COMMIT');
$blocker->quit;
# PostgreSQL moves the queue's tail as later notifications are sent: send
# some (a few pages) until it has.
my $drained = 0;
for (1 .. 50)
{
	sql("SELECT count(pg_notify('drain', repeat('y', 7000) || i)) FROM generate_series(1, 5) i");
	usleep(200_000);
	last if ($drained = sql('SELECT pg_notification_queue_usage() <= 0.00002') eq 't');
}
ok($drained, 'once the listener ends its transaction the queue drains');
my $after = sql("SELECT id FROM mojob.create_job('reserved once it drained', "
	  . "now() + interval '31 days', now() + interval '31 days 1 hour', state => 'tentative')");
sql("SELECT state FROM mojob.confirm($after)");
my $deadline = time + 10;
usleep(100_000) while received_for($after) == 0 && time < $deadline;
is(received_for($after), 1, 'and mojob notifies again');
is(log_count($re_dropped, $from), 1, 'nothing more was dropped');
sql('ALTER SYSTEM RESET mojob.notify_queue_limit');
sql('SELECT pg_reload_conf()');
$node->poll_query_until('postgres', 'SHOW mojob.notify_queue_limit', '0.5');

SKIP:
{
	skip 'the full queue (8 GB) only with MOJOB_TEST_FULL_NOTIFY_QUEUE=1', 4
	  unless $ENV{MOJOB_TEST_FULL_NOTIFY_QUEUE};
	my $block = $node->background_psql('postgres', extra_params => [ '-U', 'nobody' ]);
	chomp(my $block_pid = $block->query_safe('SELECT pg_backend_pid()'));
	$block->query_safe('LISTEN filler');
	$block->query_safe('BEGIN');
	$block->query_safe('SELECT 1');
	my $started = time;
	my ($stdout, $stderr) = ('', '');
	# 7,000-byte payloads, 20,000 a transaction (140 MB), until PostgreSQL refuses.
	for (1 .. 80)
	{
		$node->psql('postgres',
			"SELECT count(pg_notify('filler', repeat('x', 7000) || i)) FROM generate_series(1, 20000) i",
			stdout => \$stdout, stderr => \$stderr, extra_params => [ '-U', 'nobody' ]);
		last if $stderr =~ /too many notifications in the NOTIFY queue/;
	}
	like($stderr, qr/too many notifications in the NOTIFY queue/,
		sprintf('the queue is full: PostgreSQL refuses a NOTIFY (filled in %.0f s)', time - $started));
	my $d = sql("SELECT id FROM mojob.create_job('reserved in a full queue', "
		  . "now() + interval '40 days', now() + interval '40 days 1 hour')");
	is($node->safe_psql('postgres', "SELECT state FROM mojob.reserve($d)", extra_params => [ '-U', 'planner' ]),
		'tentative', "a planner's transition commits with the queue full");
	my $t = confirmed_job('started in a full queue', 2, 600);
	ok(wait_state_within($t, 'running', 10), "and so does the worker's");
	usleep(500_000);
	is(received_for($d) + received_for($t), 0, 'their notifications were dropped');
	# Ended, it would read 8 GB of notifications: terminated instead.
	sql("SELECT pg_terminate_backend($block_pid)");
	$block->quit;
}

# ---------------------------------------------------------------------
# 5. mojob.database: names as SQL writes identifiers
# ---------------------------------------------------------------------

sql('CREATE DATABASE "Broadcast"');
sql('CREATE DATABASE "Studio"');
sql('CREATE EXTENSION mojob CASCADE', 'Broadcast');
$from = log_size();
sql(q{ALTER SYSTEM SET mojob.database = 'postgres, "Broadcast", Studio, nosuchdb'});
sql('SELECT pg_reload_conf()');
$node->wait_for_log(qr/mojob scheduler started in database "Broadcast"/, $from);
ok(1, 'the quoted name "Broadcast" gets a worker');
my $bjob = confirmed_job('in Broadcast', 2, 600, 'Broadcast');
ok(wait_state_within($bjob, 'running', 10, 'Broadcast'), 'which moves its jobs');
$node->wait_for_log(qr/database "studio" does not exist; waiting for it/, $from);
like(slurp_file($node->logfile, $from),
	qr/database "studio" does not exist; waiting for it\n.*DETAIL:  mojob.database lists database names as SQL writes identifiers: unquoted, a name is folded to lower case. Database "Studio" exists.\n.*HINT:  To serve database "Studio", write "Studio", in double quotes, inside the single-quoted value of mojob.database./,
	'the unquoted Studio is reported as the missing "studio", naming "Studio" and how to quote it');
$node->wait_for_log(qr/database "nosuchdb" does not exist; waiting for it/, $from);
ok(1, 'a listed database that does not exist is reported');
usleep(6_000_000);    # the launcher looks every 5 s
is(log_count(qr/database "(?:studio|nosuchdb)" does not exist/, $from), 2, 'each once');
is(log_count(qr/mojob scheduler started in database "Studio"/), 0, 'no worker serves "Studio"');

# The invariants hold at the end, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($node);
$node->stop;

done_testing();
