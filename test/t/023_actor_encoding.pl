# The acting user is valid text (README.md, "Guarantees"): mojob.actor given at
# connection start (PGOPTIONS), which no type input function checks, with a
# byte invalid in the database encoding is refused (22021) before mojob
# stores it in created_by or by_user, so every row still dumps and
# restores.  Control characters are valid text: they are stored as given.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MojobInvariants;

my $node = PostgreSQL::Test::Cluster->new('actor');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mojob CASCADE');
my $job = $node->safe_psql('postgres',
	q{SELECT id FROM mojob.create_job('j', now() + interval '1 day', now() + interval '2 days')});

# Run sql with mojob.actor set to $actor at connection start; return the
# SQLSTATE of the error, or 'ok'.
sub as_actor
{
	my ($actor, $sql) = @_;
	local $ENV{PGOPTIONS} = "-c mojob.actor=$actor";
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY sqlstate\n$sql");
	return $ret == 0 ? 'ok' : ($err =~ /ERROR:\s+(\w{5})/ ? $1 : $err);
}

is(as_actor("ev\xffil", q{SELECT mojob.create_job('evil', now() + interval '1 day', now() + interval '2 days')}),
	'22021', 'a job created by an actor with an invalid byte is refused (22021)');
is(as_actor("ev\xffil", "SELECT mojob.reserve($job)"),
	'22021', 'so is a transition, whose history would name the actor');
is(as_actor("ev\xffil", "SELECT mojob.lock_job($job)"),
	'22021', 'and an edit lock, which would be held in its name');
is(as_actor("ev\xffil", "SELECT mojob.acting_user()"),
	'22021', 'mojob.acting_user() refuses to return it');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM mojob.job WHERE name = 'evil' OR created_by !~ '^[a-z]' }
		  . q{OR id IN (SELECT job_id FROM mojob.job_event) OR locked_by IS NOT NULL}),
	'0', 'nothing was written');

is(as_actor("ctl\x01\x7fx", "SELECT mojob.reserve($job)"),
	'ok', 'an actor with control characters (valid text) is accepted');
is($node->safe_psql('postgres', "SELECT by_user = E'ctl\\x01\\x7fx' FROM mojob.job_event WHERE job_id = $job"),
	't', 'and recorded as given');

# Everything restores.
my $file = "$PostgreSQL::Test::Utils::tmp_check/actor.sql";
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $file ], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'), '-f', $file ],
	'the dump restores');
is($node->safe_psql('restored', 'SELECT count(*) FROM mojob.job_event'), '1', 'with its history row');

# The invariants hold at the end, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($node);

done_testing();
