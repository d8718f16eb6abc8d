# The invariant check every Perl TAP test ends with (issue 15: "verify()
# after every suite"): in a database with mojob, mojob.verify() is clean and
# every row of every table of schema mojob reads back as text (the tables
# are found in the catalog, so a new table is covered).  Two tests per call.
#
#   use MojobInvariants;      # test/perl is on prove's -I (scripts/test.sh)
#   MojobInvariants::check($node, 'postgres');
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

1;
