# The scheduler extends recurrences by itself (docs/design.md section 7): once a
# day, starting when the worker starts, it calls the same code as
# mojob.extend_recurrences(), so that the instances that came within a
# recurrence's horizon are created without anyone calling it.
#
# A daily recurrence is made with a 3-day horizon while the scheduler is
# off; its horizon is then widened to 10 days (a direct write by the tables'
# owner, as mojob.extend_recurrences() would find it a day later), and the
# server is restarted: the new worker's first pass creates the instances up
# to now() + 10 days, exactly those mojob.recurrence_preview() lists.

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use MojobInvariants;

my $node = PostgreSQL::Test::Cluster->new('scheduler_recurrences');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'mojob'\nmojob.database = 'postgres'\nmojob.scheduler = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mojob CASCADE');

$node->safe_psql('postgres', q{
	INSERT INTO mojob.resource (id, name) VALUES (1, 'studio');
	SELECT mojob.make_recurring(
		(mojob.create_job('daily show', date_trunc('hour', now()) + interval '1 day',
		                  date_trunc('hour', now()) + interval '1 day 1 hour',
		                  state => 'tentative', resources => '{1}')).id,
		'FREQ=DAILY', 'UTC', '3 days');
});
my $made = $node->safe_psql('postgres',
	'SELECT count(*) FROM mojob.job WHERE recurrence_id IS NOT NULL');
ok($made >= 2 && $made <= 4, "a daily recurrence with a 3-day horizon has its first instances ($made)");

$node->safe_psql('postgres', "UPDATE mojob.recurrence SET horizon = '10 days'");
is($node->safe_psql('postgres', 'SELECT count(*) FROM mojob.job WHERE recurrence_id IS NOT NULL'),
	$made, 'widening the horizon creates nothing by itself');

# The scheduler on: its worker's first pass extends the recurrences.
$node->append_conf('postgresql.conf', "mojob.scheduler = on\n");
$node->restart;

my $expected = $node->safe_psql('postgres', q{
	SELECT 1 + count(*) FROM mojob.recurrence r,
		mojob.recurrence_preview(r.rule, r.time_zone, r.dtstart, now() + r.horizon)
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = $expected FROM mojob.job WHERE recurrence_id IS NOT NULL"),
	"the scheduler created the instances up to now() + 10 days by itself ($expected in all)");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM mojob.job j
	WHERE j.recurrence_id IS NOT NULL AND j.state = 'tentative'
	  AND NOT EXISTS (SELECT FROM mojob.booking b WHERE b.job_id = j.id)
}), '0', 'the instances it created are tentative and hold their studio');
ok($node->safe_psql('postgres', q{
	SELECT extended_until > now() + interval '9 days' FROM mojob.recurrence
}) eq 't', 'the recurrence records how far it was extended');
like(slurp_file($node->logfile), qr/mojob scheduler: created \d+ recurring job instances/,
	'the worker logs what it created');

# The invariants hold at the end, every row reads back (test/perl/MojobInvariants.pm).
MojobInvariants::check_all($node);

$node->stop;
done_testing();
