# NOTIFY mojob (docs/design.md section 3): every state change sends a notification
# on channel "mojob" with the JSON payload
#   {"job": id, "code": ..., "from": ..., "to": ..., "at": ...}
# delivered at commit; nothing is delivered for a transaction, savepoint or
# statement that is rolled back.
#
# A listening psql session prints each notification it receives as
#   Asynchronous notification "mojob" with payload "..." received from server process with PID n.
# after the query during which it arrived; the test collects those lines.

use strict;
use warnings FATAL => 'all';

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use MojobInvariants;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('notify');
$node->init;
$node->append_conf('postgresql.conf', "log_min_messages = warning\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mojob CASCADE');

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN mojob');

my $writer = $node->background_psql('postgres');
# The SQLSTATE of a statement run in a subtransaction, or 'ok'.
$writer->query_safe(
	q{CREATE FUNCTION pg_temp.try(query text) RETURNS text LANGUAGE plpgsql AS $$
	  BEGIN EXECUTE query; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$}
);

my @received;    # raw payloads, in the order they arrived

# Ask the listener for what has arrived, once.
sub collect
{
	my $out = $listener->query_safe('SELECT 1');
	for my $line (split /\n/, $out)
	{
		push @received, $1
		  if $line =~
		  /^Asynchronous notification "mojob" with payload "(.*)" received from server process with PID \d+\.$/;
	}
	return;
}

# Collect until at least $n payloads have arrived in all (or time runs out).
sub wait_for
{
	my ($n) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	collect();
	while (@received < $n && time < $deadline)
	{
		usleep(100_000);
		collect();
	}
	return;
}

sub decode_payload
{
	my ($raw) = @_;
	my $p = eval { JSON::PP->new->decode($raw) };
	return $p;
}

sub writer_value
{
	my ($sql) = @_;
	my $out = $writer->query_safe($sql);
	chomp $out;
	return $out;
}

# A summary of payloads: "job from>to" each.
sub moves
{
	return join ', ', map {
		my $p = decode_payload($_);
		$p ? "$p->{job} $p->{from}>$p->{to}" : "unparsable: $_"
	} @_;
}

# ---------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------

my %job;
for my $name (qw(a b c d s e))
{
	$job{$name} = writer_value(
		"SELECT id FROM mojob.create_job('notify $name', now() + interval '1 day', now() + interval '1 day 1 hour')"
	);
}
$job{p} = writer_value(
	"SELECT id FROM mojob.create_job('notify past', now() - interval '10 minutes', now() + interval '1 hour', state => 'tentative')"
);
$job{q} = writer_value(
	"SELECT id FROM mojob.create_job('notify advance', now() + interval '1 day', now() + interval '1 day 1 hour', state => 'tentative')"
);
writer_value("SELECT state FROM mojob.confirm($job{q})");
@received = ();
wait_for(1);
is(moves(@received), "$job{q} tentative>confirmed",
	'creating jobs sends nothing; confirming one sends one notification');
@received = ();

# ---------------------------------------------------------------------
# Delivered at commit, with its payload
# ---------------------------------------------------------------------

$writer->query_safe('BEGIN');
my $code_a = writer_value("SELECT code FROM mojob.reserve($job{a})");
collect();
is(scalar @received, 0, 'a transition not yet committed has sent nothing');
$writer->query_safe('COMMIT');
wait_for(1);
is(scalar @received, 1, 'after COMMIT the transition\'s notification arrives');

my $payload = decode_payload($received[0] // '');
ok(defined $payload, 'the payload is JSON') or diag("payload: " . ($received[0] // '(none)'));
$payload //= {};
is_deeply([ sort keys %$payload ], [qw(at code from job to)],
	'the payload has the keys job, code, from, to and at');
like($received[0] // '', qr/"job"\s*:\s*\d+\s*[,}]/, 'the payload\'s job is a JSON number');
is($payload->{job}, $job{a}, 'the payload\'s job is the job\'s id');
is($payload->{code}, $code_a, 'the payload\'s code is the job\'s code');
is($payload->{from}, 'draft', 'the payload\'s from is the state before');
is($payload->{to}, 'tentative', 'the payload\'s to is the state after');
is( $node->safe_psql(
		'postgres', sprintf(
			q{SELECT count(*) FROM mojob.job_event
			  WHERE job_id = %d AND from_state = 'draft' AND to_state = 'tentative' AND at = %s::timestamptz},
			$job{a}, quote_literal($payload->{at} // 'infinity'))),
	'1',
	'the payload\'s at is the time of the history row of the transition');

# ---------------------------------------------------------------------
# Nothing for what is rolled back
# ---------------------------------------------------------------------

@received = ();
$writer->query_safe('BEGIN');
writer_value("SELECT state FROM mojob.reserve($job{b})");
$writer->query_safe('ROLLBACK');
$writer->query_safe('BEGIN');
$writer->query_safe('SAVEPOINT before_c');
writer_value("SELECT state FROM mojob.reserve($job{c})");
$writer->query_safe('ROLLBACK TO SAVEPOINT before_c');
is( writer_value(
		"SELECT pg_temp.try(\$\$UPDATE mojob.job SET state = 'tentative', end_at = start_at WHERE id = $job{d}\$\$)"
	),
	'23514',
	'a transition whose row breaks the window check fails, inside a PL/pgSQL exception block');
writer_value("SELECT state FROM mojob.reserve($job{s})");
$writer->query_safe('COMMIT');
wait_for(1);
# Notifications arrive in commit order: anything sent for b, c or d would
# have come before s's.
is(moves(@received), "$job{s} draft>tentative",
	'nothing arrives for a rolled-back transaction, a rolled-back savepoint or a failed statement'
);

# ---------------------------------------------------------------------
# Several transitions in one statement: one notification each, in order
# ---------------------------------------------------------------------

@received = ();
writer_value("SELECT state FROM mojob.confirm($job{p})");
wait_for(2);
is( moves(@received),
	"$job{p} tentative>confirmed, $job{p} confirmed>running",
	'confirming a job whose start has passed sends two notifications: to confirmed, then to running'
);

@received = ();
is(writer_value("SELECT mojob.advance(now() + interval '1 day 2 hours')"),
	'3', 'advance makes three transitions');
wait_for(3);
is( join(', ', sort split /, /, moves(@received)),
	join(', ',
		sort("$job{p} running>completed", "$job{q} confirmed>running",
			"$job{q} running>completed")),
	'advance sends one notification per transition it makes');

# ---------------------------------------------------------------------
# A code that needs escaping stays valid JSON
# ---------------------------------------------------------------------

@received = ();
writer_value(q{UPDATE mojob.settings SET job_code_pattern = 'Q"\\{seq}/' RETURNING job_code_pattern});
my $odd = writer_value(
	"SELECT id FROM mojob.create_job('notify odd', now() + interval '1 day', now() + interval '1 day 1 hour')"
);
my $odd_code = writer_value("SELECT code FROM mojob.reserve($odd)");
wait_for(1);
my $odd_payload = decode_payload($received[0] // '') // {};
is($odd_payload->{code}, $odd_code,
	'a code with a quote and a backslash comes through the JSON payload unchanged');

$writer->quit;
$listener->quit;
# The invariants hold at the end, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($node);

$node->stop;
done_testing();

# A SQL literal for a string.
sub quote_literal
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}
