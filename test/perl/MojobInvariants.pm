# The invariant check every Perl TAP test ends with (issue 15: "verify()
# after every suite"): in a database with mojob, mojob.verify() is clean and
# every row of every table of schema mojob reads back as text (the tables
# are found in the catalog, so a new table is covered).  Two tests per call.
#
#   use MojobInvariants;      # test/perl is on prove's -I (scripts/test.sh)
#   MojobInvariants::check($node, 'postgres');   # one database
#   MojobInvariants::check_all($node);           # each database that has mojob.verify()
package MojobInvariants;

use strict;
use warnings FATAL => 'all';

use Test::More;

# The query that reads every row of every mojob table as text; one line per
# table, 'name rows'.  Shared with test/pgtap/helpers/invariants.psql.
our $READ_ALL = q{
DO $$
DECLARE
    t text;
    n bigint;
BEGIN
    FOR t IN SELECT c.relname FROM pg_catalog.pg_class c
             WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind IN ('r', 'p')
             ORDER BY c.relname
    LOOP
        EXECUTE format('SELECT count(x::text) FROM mojob.%I x', t) INTO n;
        RAISE NOTICE 'read mojob.%: % rows', t, n;
    END LOOP;
END
$$};

sub check
{
	my ($node, $db) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;

	my ($ret, $out, $err) = $node->psql($db,
		q{SELECT coalesce(string_agg(check_name || ': ' || detail, E'\n' ORDER BY check_name), 'clean')
		  FROM mojob.verify() WHERE NOT ok},
		extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
	is($ret == 0 ? $out : "error: $err", 'clean', "$db: mojob.verify() is clean");

	($ret, $out, $err) = $node->psql($db, $READ_ALL, extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
	my @read = $err =~ /NOTICE:  read mojob\.(\w+)/g;
	ok($ret == 0 && @read >= 11, "$db: every row of every mojob table reads back (" . scalar(@read) . ' tables)')
	  or diag($err);
	return;
}

# Check each database of the node where mojob (1.1 or later) is installed;
# one more test: that there was at least one.
sub check_all
{
	my ($node) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @checked;

	for my $db (split /\n/, $node->safe_psql('postgres',
		q{SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname}))
	{
		next unless $node->safe_psql($db, q{SELECT to_regprocedure('mojob.verify()') IS NOT NULL}) eq 't';
		check($node, $db);
		push @checked, $db;
	}
	ok(@checked > 0, 'the invariants were checked in ' . join(', ', @checked));
	return;
}

1;
