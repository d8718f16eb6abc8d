# Install-time binding (README.md, "Guarantees"): nothing mojob binds depends
# on objects another role put in a schema that was on the search_path when the
# extension was created or updated.
#
# A view, a column default, a CHECK constraint, an index expression, a
# statistics object or a function's argument default binds each function
# and operator it names when it is created, with the search_path of that
# moment (mojob, then btree_gist's schema, usually public).  An untrusted
# role that may create in public can plant there a function or an operator
# whose argument types match a call better than pg_catalog's (an exact
# text[] where pg_catalog has anyarray, an exact (numeric, integer) where
# pg_catalog needs a cast, text for an unknown literal where pg_catalog has
# regclass): the view then runs it with the rights of whoever reads it.
#
#   1. A clean install: every function and operator call stored in mojob's
#      objects is read from the catalogs (the parse trees of views,
#      defaults, constraints, index and statistics expressions, argument
#      defaults, trigger conditions and policies), with the argument types
#      of the call as written, as well as before implicit casts, and with
#      text for each constant.  Calls the install script makes at install
#      time (its DO blocks) are listed by hand below.
#   2. A role "attacker", with CREATE on public only, creates in public a
#      look-alike of each such function and operator for each of these
#      argument lists.  A look-alike records each call in public.hostile_call
#      and then does what pg_catalog's would.
#   3. Database "fresh": the look-alikes exist before CREATE EXTENSION
#      mojob CASCADE.  Database "upgraded": they exist before CREATE
#      EXTENSION mojob VERSION '1.0' CASCADE (which 1.0 may bind: it
#      shipped so), look-alikes on mojob's own types (job_state, ...) are
#      added once they exist, and then ALTER EXTENSION mojob UPDATE.
#   4. In both: no object of mojob (nor a part of one: a rule, a default, a
#      constraint, an index, a trigger) depends in pg_depend on anything
#      outside pg_catalog, mojob and the extensions mojob and btree_gist;
#      every SQL or PL/pgSQL function of mojob pins its search_path; and a
#      superuser who runs a day of mojob (creating, reserving, confirming,
#      reading every view, drawing the timelines) and a planner who does
#      the same never call a look-alike.
#
# Also here, since it needs a committed ALTER TYPE: the owner adds a value
# to mojob.job_state, and timeline_svg still draws (the new state in a
# neutral colour).

use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MojobInvariants;

my $node = PostgreSQL::Test::Cluster->new('binding');
$node->init;
$node->start;

sub sql
{
	my ($db, $query, %opt) = @_;
	return $node->safe_psql($db, $query, %opt);
}

# ---------------------------------------------------------------------
# Parse trees (the text form of pg_node_tree)
# ---------------------------------------------------------------------

# Tokens as PostgreSQL's pg_strtok reads them: ( ) { } or a run of other
# characters, a backslash quoting the next one.
sub tokens
{
	my ($s) = @_;
	my @t;
	my $i = 0;
	my $n = length $s;
	while ($i < $n)
	{
		my $c = substr($s, $i, 1);
		if ($c =~ /\s/) { $i++; next; }
		if ($c =~ /[(){}]/) { push @t, $c; $i++; next; }
		my $tok = '';
		while ($i < $n)
		{
			$c = substr($s, $i, 1);
			last if $c =~ /[\s(){}]/;
			if ($c eq '\\') { $tok .= substr($s, $i + 1, 1); $i += 2; next; }
			$tok .= $c;
			$i++;
		}
		push @t, $tok;
	}
	return \@t;
}

# A node is { _node => NAME, field => [values] }; a list is an array ref.
sub parse_value
{
	my ($t) = @_;
	my $tok = shift @$t;
	if ($tok eq '{')
	{
		my %node = (_node => shift @$t);
		my $field;
		while (@$t && $t->[0] ne '}')
		{
			if ($t->[0] =~ /^:(\w+)$/ && $t->[0] !~ /^:\d/)
			{
				$field = $1;
				shift @$t;
				$node{$field} = [];
				next;
			}
			push @{ $node{$field} }, parse_value($t);
		}
		shift @$t;
		return \%node;
	}
	if ($tok eq '(')
	{
		my @list;
		push @list, parse_value($t) while @$t && $t->[0] ne ')';
		shift @$t;
		return \@list;
	}
	return $tok;
}

# A field that is a list: an array ref, empty for <>.
sub list_of
{
	my ($node, $name) = @_;
	my $v = field($node, $name);
	return ref $v eq 'ARRAY' ? $v : [];
}

sub field
{
	my ($node, $name) = @_;
	my $v = $node->{$name};
	return undef unless defined $v && @$v;
	return $v->[0];
}

my %elem_of;       # array type oid -> element type oid
my %mojob_type;    # oid of a type of schema mojob -> its typtype
my %array_of;      # element type oid -> array type oid

# The result type of an expression node, or undef when it cannot be told.
sub type_of
{
	my ($n) = @_;
	return undef unless ref $n eq 'HASH';
	my %f = (
		FUNCEXPR => 'funcresulttype', OPEXPR => 'opresulttype', DISTINCTEXPR => 'opresulttype',
		NULLIFEXPR => 'opresulttype', VAR => 'vartype', CONST => 'consttype', PARAM => 'paramtype',
		AGGREF => 'aggtype', WINDOWFUNC => 'wintype', RELABELTYPE => 'resulttype',
		COERCEVIAIO => 'resulttype', ARRAYCOERCEEXPR => 'resulttype', CONVERTROWTYPEEXPR => 'resulttype',
		CASEEXPR => 'casetype', CASETESTEXPR => 'typeId', ARRAYEXPR => 'array_typeid',
		ROWEXPR => 'row_typeid', COALESCEEXPR => 'coalescetype', MINMAXEXPR => 'minmaxtype',
		SQLVALUEFUNCTION => 'type', FIELDSELECT => 'resulttype', COERCETODOMAIN => 'resulttype');
	my $k = $n->{_node};
	return field($n, $f{$k}) if $f{$k};
	return 16 if $k =~ /^(SCALARARRAYOPEXPR|BOOLEXPR|NULLTEST|BOOLEANTEST|ROWCOMPARE)$/;
	return type_of(field($n, 'arg')) if $k eq 'NAMEDARGEXPR';
	return type_of(field($n, 'expr')) if $k eq 'TARGETENTRY';
	if ($k eq 'SUBLINK')
	{
		my $kind = field($n, 'subLinkType');
		return 16 if $kind =~ /^[0123]$/;    # EXISTS, ALL, ANY, ROWCOMPARE
		my $q = field($n, 'subselect');
		my $tl = $q->{targetList}[0] // [];
		my $te = ref $tl eq 'ARRAY' ? $tl->[0] : $tl;
		my $t = type_of($te);
		return $kind == 6 && defined $t ? $array_of{$t} : $t;    # ARRAY_SUBLINK
	}
	return undef;
}

# The types an argument could be planted with: its own, the one before an
# implicit cast, and text for a constant (an unknown literal prefers text).
sub arg_types
{
	my ($a) = @_;
	my %t;
	my $t = type_of($a);
	$t{$t} = 1 if defined $t;
	my $inner = $a;
	while (ref $inner eq 'HASH')
	{
		my $k = $inner->{_node};
		if ($k eq 'FUNCEXPR' && field($inner, 'funcformat') eq '2') { $inner = list_of($inner, 'args')->[0]; }
		elsif ($k =~ /^(RELABELTYPE|COERCEVIAIO)$/
			&& (field($inner, 'relabelformat') // field($inner, 'coerceformat') // '') eq '2')
		{
			$inner = field($inner, 'arg');
		}
		else { last; }
		my $it = type_of($inner);
		$t{$it} = 1 if defined $it;
	}
	$t{25} = 1 if ref $a eq 'HASH' && $a->{_node} eq 'CONST';
	# For mojob's own types, which do not exist before the install, the
	# polymorphic types that match them.
	for my $x (keys %t)
	{
		next unless $mojob_type{$x};
		if ($elem_of{$x}) { $t{2277} = 1; }                       # anyarray
		elsif ($mojob_type{$x} eq 'e') { $t{3500} = 1; }          # anyenum
	}
	return [ sort keys %t ];
}

# Every combination of the argument types (at most 16).
sub combos
{
	my @lists = @_;
	my @out = ([]);
	for my $l (@lists)
	{
		@out = map { my $p = $_; map { [ @$p, $_ ] } @$l } @out;
		splice(@out, 16) if @out > 16;
	}
	return @out;
}

# Walk a tree, calling $cb on every node.
sub walk
{
	my ($n, $cb) = @_;
	if (ref $n eq 'ARRAY') { walk($_, $cb) for @$n; return; }
	return unless ref $n eq 'HASH';
	$cb->($n);
	for my $k (keys %$n)
	{
		next if $k eq '_node';
		walk($_, $cb) for @{ $n->{$k} };
	}
}

# ---------------------------------------------------------------------
# 1. What a clean install calls
# ---------------------------------------------------------------------

sql('postgres', 'CREATE DATABASE clean');
sql('clean', 'CREATE EXTENSION mojob CASCADE');

my $members_cte = q{
ext AS (SELECT oid FROM pg_extension WHERE extname = 'mojob'),
members AS (SELECT classid, objid FROM pg_depend, ext
            WHERE refclassid = 'pg_extension'::regclass AND refobjid = ext.oid AND deptype = 'e'),
rels AS (SELECT objid AS oid FROM members WHERE classid = 'pg_class'::regclass)};

my $trees = sql('clean', qq{
WITH $members_cte,
trees(what, tree) AS (
    SELECT 'view ' || ev_class::regclass, ev_action::text FROM pg_rewrite WHERE ev_class IN (SELECT oid FROM rels)
    UNION ALL SELECT 'default of ' || adrelid::regclass, adbin::text FROM pg_attrdef WHERE adrelid IN (SELECT oid FROM rels)
    UNION ALL SELECT 'constraint ' || conname, conbin::text FROM pg_constraint
        WHERE conbin IS NOT NULL
          AND (conrelid IN (SELECT oid FROM rels) OR contypid IN (SELECT objid FROM members WHERE classid = 'pg_type'::regclass))
    UNION ALL SELECT 'index ' || indexrelid::regclass, indexprs::text FROM pg_index
        WHERE indrelid IN (SELECT oid FROM rels) AND indexprs IS NOT NULL
    UNION ALL SELECT 'index predicate ' || indexrelid::regclass, indpred::text FROM pg_index
        WHERE indrelid IN (SELECT oid FROM rels) AND indpred IS NOT NULL
    UNION ALL SELECT 'statistics ' || stxname, stxexprs::text FROM pg_statistic_ext
        WHERE stxrelid IN (SELECT oid FROM rels) AND stxexprs IS NOT NULL
    UNION ALL SELECT 'argument defaults ' || p.oid::regprocedure, proargdefaults::text FROM pg_proc p
        WHERE p.oid IN (SELECT objid FROM members WHERE classid = 'pg_proc'::regclass) AND proargdefaults IS NOT NULL
    UNION ALL SELECT 'trigger ' || tgname, tgqual::text FROM pg_trigger
        WHERE tgrelid IN (SELECT oid FROM rels) AND tgqual IS NOT NULL
    UNION ALL SELECT 'policy ' || polname, polqual::text FROM pg_policy
        WHERE polrelid IN (SELECT oid FROM rels) AND polqual IS NOT NULL
    UNION ALL SELECT 'policy ' || polname, polwithcheck::text FROM pg_policy
        WHERE polrelid IN (SELECT oid FROM rels) AND polwithcheck IS NOT NULL)
SELECT what || E'\t' || translate(tree, E'\\n\\t', '  ') FROM trees ORDER BY 1});

for (split /\n/, sql('clean', q{SELECT oid, typtype FROM pg_type WHERE typnamespace = 'mojob'::regnamespace}))
{
	my ($t, $k) = split /\|/;
	$mojob_type{$t} = $k;
}
for (split /\n/, sql('clean', q{SELECT oid, typelem FROM pg_type WHERE typelem <> 0 AND typcategory = 'A'}))
{
	my ($a, $e) = split /\|/;
	$elem_of{$a} = $e;
	$array_of{$e} //= $a;
}

# Calls: function oid or operator oid => { join(',', argtypes) => result type }.
my (%fcalls, %ocalls);
my $ntrees = 0;
for my $line (split /\n/, $trees)
{
	my ($what, $text) = split /\t/, $line, 2;
	my $tree = parse_value(tokens($text));
	$ntrees++;
	walk($tree, sub {
		my ($n) = @_;
		my $k = $n->{_node};
		if ($k eq 'FUNCEXPR' && field($n, 'funcformat') eq '0')
		{
			my @args = @{ list_of($n, 'args') };
			$fcalls{ field($n, 'funcid') }{ join(',', @$_) } = field($n, 'funcresulttype')
			  for combos(map { arg_types($_) } @args);
		}
		elsif ($k eq 'AGGREF' || $k eq 'WINDOWFUNC')
		{
			my $fn = $k eq 'AGGREF' ? field($n, 'aggfnoid') : field($n, 'winfnoid');
			my $types = $n->{aggargtypes} ? $n->{aggargtypes}[0] : [];
			my @t = ref $types eq 'ARRAY' ? grep { $_ ne 'o' } @$types : ();
			$fcalls{$fn}{ join(',', @t) } = field($n, $k eq 'AGGREF' ? 'aggtype' : 'wintype');
		}
		elsif ($k =~ /^(OPEXPR|DISTINCTEXPR|NULLIFEXPR)$/)
		{
			my @args = @{ list_of($n, 'args') };
			$ocalls{ field($n, 'opno') }{ join(',', @$_) } = 1 for combos(map { arg_types($_) } @args);
		}
		elsif ($k eq 'SCALARARRAYOPEXPR')
		{
			my ($l, $r) = @{ list_of($n, 'args') };
			my @rt = map { $elem_of{$_} // () } @{ arg_types($r) };
			$ocalls{ field($n, 'opno') }{ join(',', @$_) } = 1 for combos(arg_types($l), \@rt);
		}
	});
}
ok($ntrees >= 60, "the parse trees of mojob's objects are read ($ntrees)");

# Name each call; keep those that name pg_catalog's (mojob's own are
# written qualified with mojob.), and the argument types that are not
# pseudo-types.
my $typnames = {};
my %polymorphic = (2277 => 1, 3500 => 1);
for (split /\n/, sql('clean', q{SELECT oid, format_type(oid, NULL), typtype = 'p', typnamespace::regnamespace::text FROM pg_type}))
{
	my ($oid, $name, $pseudo, $nsp) = split /\|/;
	$typnames->{$oid} = { name => $name, pseudo => $pseudo eq 't', mojob => $nsp eq 'mojob' };
}

my @lookalikes;    # { kind, name, args => [names], ret, mojob_types }
my %seen;
for my $f (sort keys %fcalls)
{
	my ($name, $nsp, $kind, $vol) = split /\|/,
	  sql('clean', "SELECT proname, pronamespace::regnamespace, prokind, provolatile FROM pg_proc WHERE oid = $f");
	next unless $nsp eq 'pg_catalog';
	for my $sig (sort keys %{ $fcalls{$f} })
	{
		my @t = $sig eq '' ? () : split /,/, $sig;
		my $ret = $fcalls{$f}{$sig};
		next if grep { !$typnames->{$_} || ($typnames->{$_}{pseudo} && !$polymorphic{$_}) } @t, $ret;
		push @lookalikes, {
			kind => $kind eq 'a' ? 'aggregate' : 'function', name => $name, volatile => $vol,
			args => [ map { $typnames->{$_}{name} } @t ], ret => $typnames->{$ret}{name},
			mojob_types => scalar(grep { $typnames->{$_}{mojob} } @t, $ret) };
	}
}
for my $o (sort keys %ocalls)
{
	my ($name, $nsp, $ret, $vol) = split /\|/,
	  sql('clean', "SELECT oprname, oprnamespace::regnamespace, oprresult, provolatile
	                FROM pg_operator JOIN pg_proc p ON p.oid = oprcode WHERE pg_operator.oid = $o");
	next unless $nsp eq 'pg_catalog';
	for my $sig (sort keys %{ $ocalls{$o} })
	{
		my @t = split /,/, $sig;
		next unless @t == 2;
		next if grep { !$typnames->{$_} || ($typnames->{$_}{pseudo} && !$polymorphic{$_}) } @t, $ret;
		push @lookalikes, {
			kind => 'operator', name => $name, volatile => $vol, args => [ map { $typnames->{$_}{name} } @t ],
			ret => $typnames->{$ret}{name}, mojob_types => scalar(grep { $typnames->{$_}{mojob} } @t) };
	}
}

# What the install script calls while it runs (its DO blocks), which no
# catalog keeps.
for my $extra (
	[ 'function', 'format', [ 'text', 'text' ], 'text' ],
	[ 'function', 'format', [ 'text', 'text', 'name', 'text' ], 'text' ],
	[ 'function', 'col_description', [ 'regclass', 'smallint' ], 'text' ],
	[ 'function', 'pg_extension_config_dump', [ 'text', 'text' ], 'void' ])
{
	my ($kind, $name, $args, $ret) = @$extra;
	push @lookalikes, { kind => $kind, name => $name, args => $args, ret => $ret, mojob_types => 0, volatile => 'v' };
}

# One of each (kind, name, argument types).
@lookalikes = grep { !$seen{"$_->{kind} $_->{name}(@{$_->{args}})"}++ } @lookalikes;

my %names = map { ("$_->{kind} $_->{name}" => 1) } @lookalikes;
ok((grep { $_->{name} eq 'array_remove' && "@{$_->{args}}" eq 'text[] text' } @lookalikes),
	'the look-alikes include array_remove(text[], text), as mojob.job_search calls it');
ok((grep { $_->{name} eq 'format' } @lookalikes) && (grep { $_->{name} eq 'nextval' && "@{$_->{args}}" eq 'text' } @lookalikes),
	'and format(), and nextval(text) for the sequences\' defaults');
ok((grep { $_->{kind} eq 'operator' && $_->{mojob_types} } @lookalikes),
	'and operators on mojob\'s own types, for the upgrade');
note(scalar(@lookalikes) . ' look-alikes of ' . scalar(keys %names) . ' functions and operators: '
	  . join(', ', sort keys %names));

# ---------------------------------------------------------------------
# 2. The attacker's look-alikes
# ---------------------------------------------------------------------

sql('postgres', q{
CREATE ROLE attacker LOGIN;
CREATE ROLE mojob_viewer NOLOGIN;
CREATE ROLE mojob_planner LOGIN IN ROLE mojob_viewer;
});

# SQL creating the look-alikes (those on mojob's types, or the others).
sub lookalike_sql
{
	my ($on_mojob_types) = @_;
	my @s;
	my $i = 0;
	for my $l (@lookalikes)
	{
		$i++;
		next if ($l->{mojob_types} ? 1 : 0) != ($on_mojob_types ? 1 : 0);
		my $args = join(', ', @{ $l->{args} });
		my $label = "$l->{kind} $l->{name}($args)";
		$label =~ s/'/''/g;
		my $params = join(', ', map { "\$$_" } 1 .. @{ $l->{args} });
		my $ret = $l->{ret};
		# Look-alikes are as immutable as the originals (an index takes no
		# other), so they record with nextval, which a read-only function may
		# call and a rollback does not undo, and say which they are in the log.
		my $record = "PERFORM pg_catalog.nextval('public.hostile_call'); "
		  . "RAISE WARNING 'hostile call: % by %', '$label', current_user;";
		my $vol = { i => 'IMMUTABLE', s => 'STABLE', v => 'VOLATILE' }->{ $l->{volatile} };
		if ($l->{kind} eq 'operator')
		{
			my ($lt, $rt) = @{ $l->{args} };
			my $fn = "public.hostile_op_$i";
			push @s, qq{CREATE FUNCTION $fn($lt, $rt) RETURNS $ret LANGUAGE plpgsql $vol AS \$f\$
BEGIN $record RETURN \$1 OPERATOR(pg_catalog.$l->{name}) \$2; END \$f\$;
CREATE OPERATOR public.$l->{name} (LEFTARG = $lt, RIGHTARG = $rt, FUNCTION = $fn);};
		}
		elsif ($l->{kind} eq 'aggregate')
		{
			# An aggregate of the same name: its state function records.
			my $fn = "public.hostile_agg_$i";
			my $st = $args eq '' ? 'bigint' : $ret;
			push @s, qq{CREATE FUNCTION $fn(s $st@{[ $args eq '' ? '' : ", $args" ]}) RETURNS $st LANGUAGE plpgsql $vol AS \$f\$
BEGIN $record RETURN s; END \$f\$;
CREATE AGGREGATE public.$l->{name}(@{[ $args eq '' ? '*' : $args ]}) (SFUNC = $fn, STYPE = $st);};
		}
		else
		{
			my $body = $ret eq 'void'
			  ? "PERFORM pg_catalog.$l->{name}($params); RETURN;"
			  : "RETURN pg_catalog.$l->{name}($params);";
			push @s, qq{CREATE FUNCTION public.$l->{name}($args) RETURNS $ret LANGUAGE plpgsql $vol AS \$f\$
BEGIN $record $body END \$f\$;};
		}
	}
	return join("\n", @s);
}

sub plant
{
	my ($db, $on_mojob_types) = @_;
	my ($ret, $out, $err) = $node->psql($db, lookalike_sql($on_mojob_types),
		extra_params => [ '-U', 'attacker', '-v', 'ON_ERROR_STOP=1' ]);
	is($ret, 0, "$db: the attacker plants its look-alikes in public"
		  . ($on_mojob_types ? " on mojob's types" : '')) or diag($err);
	return sql($db, q{SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
	                                                     AND proowner = 'attacker'::regrole});
}

sub prepare_db
{
	my ($db) = @_;
	sql('postgres', "CREATE DATABASE $db");
	sql($db, q{
GRANT CREATE ON SCHEMA public TO attacker;
SET ROLE attacker;
CREATE SEQUENCE public.hostile_call;
GRANT USAGE ON SEQUENCE public.hostile_call TO PUBLIC;
});
}

# ---------------------------------------------------------------------
# 3 and 4. Install, update, check
# ---------------------------------------------------------------------

# Objects of mojob and their parts (a view's rule, a default, a constraint,
# an index, a trigger, an array type) that depend on anything outside
# pg_catalog, mojob, and the extensions mojob and btree_gist.
my $outside_sql = qq{
WITH RECURSIVE $members_cte,
own(classid, objid) AS (
    SELECT classid, objid FROM members
    UNION
    SELECT d.classid, d.objid FROM pg_depend d JOIN own o ON d.refclassid = o.classid AND d.refobjid = o.objid
    WHERE d.deptype IN ('a', 'i')),
allowed_ext AS (SELECT oid FROM pg_extension WHERE extname IN ('mojob', 'btree_gist')),
ext_member AS (SELECT d.classid, d.objid FROM pg_depend d
               WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid IN (SELECT oid FROM allowed_ext)
                 AND d.deptype = 'e'),
refs AS (
    SELECT DISTINCT o.classid, o.objid, d.refclassid, d.refobjid
    FROM own o JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid
    WHERE d.deptype IN ('n', 'a'))
SELECT pg_describe_object(r.classid, r.objid, 0) || ' -> ' || pg_describe_object(r.refclassid, r.refobjid, 0)
FROM refs r, LATERAL pg_identify_object(r.refclassid, r.refobjid, 0) i
WHERE NOT (r.refclassid = 'pg_extension'::regclass AND r.refobjid IN (SELECT oid FROM allowed_ext))
  AND NOT (r.refclassid = 'pg_namespace'::regclass AND r.refobjid = 'mojob'::regnamespace)
  AND NOT (r.refclassid = 'pg_language'::regclass AND r.refobjid IN (SELECT oid FROM pg_language WHERE lanname IN ('c', 'plpgsql', 'sql')))
  AND NOT (r.refclassid, r.refobjid) IN (SELECT classid, objid FROM ext_member)
  AND NOT (r.refclassid, r.refobjid) IN (SELECT classid, objid FROM own)
  AND coalesce(i.schema, '') NOT IN ('pg_catalog', 'mojob')
ORDER BY 1};

# A day of mojob's work, touching every view, default, constraint and
# picture; run as the superuser, then as a planner.
my $day = q{
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT count(*) FROM mojob.state_transitions;
SELECT id AS j1 FROM mojob.create_job('match', now() + interval '30 minutes', now() + interval '2 hours',
                                      resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'studio')]) \gset
SELECT id AS j2 FROM mojob.create_job('late', now() - interval '1 hour', now() + interval '3 hours') \gset
SELECT id AS j3 FROM mojob.create_job('feed', now() + interval '3 days', now() + interval '3 days 1 hour',
                                      pre_roll => '10 minutes', post_roll => '5 minutes') \gset
SELECT mojob.add_pool_node(:j3, (SELECT min(id) FROM mojob.pool), 'cam', '{uhd}') IS NOT NULL;
SELECT mojob.add_resource(:j3, (SELECT id FROM mojob.resource WHERE name = 'studio'), 2.5) IS NOT NULL;
SELECT mojob.add_resource(:j2, (SELECT id FROM mojob.resource WHERE name = 'off')) IS NOT NULL;
SELECT state FROM mojob.reserve(:j1);
SELECT state FROM mojob.reserve(:j3);
SELECT id AS j4 FROM mojob.duplicate(:j1, now() + interval '5 days') \gset
SELECT id AS r1 FROM mojob.make_recurring(:j4, 'FREQ=DAILY;COUNT=3', 'UTC') \gset
SELECT count(*) FROM mojob.recurrences;
SELECT state FROM mojob.confirm(:j1);
SELECT count(*) FROM mojob.job_errors;
SELECT count(*), count(*) FILTER (WHERE has_error) FROM mojob.job_search;
SELECT count(*) FROM mojob.jobs;
SELECT count(*), count(*) FILTER (WHERE can_confirm OR can_stop OR can_reserve) FROM mojob.ops_board;
-- (the test's own condition on an enum names its operator: public has look-alikes)
SELECT count(*) FROM mojob.ops_board WHERE board OPERATOR(pg_catalog.=) 'upcoming' AND start_at < now() + interval '1 week';
SELECT count(*) FROM mojob.resource_schedule;
SELECT length(mojob.timeline_svg(tstzrange(now() - interval '1 day', now() + interval '1 week'))) > 0;
SELECT count(*) FROM mojob.timeline(tstzrange(now() - interval '1 day', now() + interval '1 week'));
SELECT count(*) FROM mojob.free_resources(tstzrange(now(), now() + interval '1 hour'), NULL, '{uhd}');
SELECT * FROM mojob.resource_usage((SELECT min(id) FROM mojob.resource), tstzrange(now(), now() + interval '1 day'));
SELECT mojob.job_code_preview('X-{YYYY}-{seq:4}');
SELECT state FROM mojob.lock_job(:j3);
SELECT state FROM mojob.unlock_job(:j3);
SELECT state FROM mojob.reschedule(:j3, now() + interval '4 days', now() + interval '4 days 2 hours');
SELECT state FROM mojob.cancel(:j3, 'rain');
SELECT mojob.cancel_recurrence(:r1, 'done') IS NOT NULL;
SELECT mojob.delete_job(:j2);
SELECT mojob.advance();
};

# Resources, a pool and settings, as the owner.
my $setup = q{
SET client_min_messages = warning;
UPDATE mojob.settings SET job_code_pattern = 'J-{YYYY}-{seq:5}', default_pre_roll = '5 minutes',
                          validation_horizon = '2 hours';
INSERT INTO mojob.resource (name, concurrency, capacity, capabilities)
VALUES ('studio', 2, 10, '{uhd,hd}'), ('cam-1', 1, NULL, '{uhd}'), ('off', 1, 5, '{}');
UPDATE mojob.resource SET enabled = false WHERE name = 'off';
INSERT INTO mojob.pool (name) VALUES ('cams');
INSERT INTO mojob.pool_member SELECT p.id, r.id FROM mojob.pool p, mojob.resource r WHERE r.name = 'cam-1';
GRANT USAGE ON SCHEMA mojob TO mojob_viewer;
GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer;
GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource,
      mojob.recurrence, mojob.recurrence_conflict TO mojob_planner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner;
};

# How many times look-alikes were called in a database, and which ones (from
# the server log, since log position $from).
sub calls
{
	my ($db) = @_;
	return sql($db, q{SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.hostile_call});
}

sub reset_calls
{
	my ($db) = @_;
	sql($db, q{SELECT pg_catalog.setval('public.hostile_call', 1, false)});
	return -s $node->logfile;
}

sub which_calls
{
	my ($from) = @_;
	my $log = slurp_file($node->logfile, $from);
	my %w = map { $_ => 1 } ($log =~ /WARNING:  (hostile call: [^\n]*)/g);
	return join("\n", sort keys %w);
}

sub check_db
{
	my ($db, $how, $from) = @_;
	is(sql($db, $outside_sql), '', "$db: after $how, no object of mojob depends on anything outside pg_catalog, mojob and btree_gist");
	is(sql($db, q{
SELECT string_agg(p.oid::regprocedure::text, ', ')
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'mojob'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
  AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
  AND p.prosqlbody IS NULL}), '',
		"$db: every SQL and PL/pgSQL function of mojob carries SET search_path = pg_catalog, pg_temp");
	is(calls($db), '0', "$db: $how called no look-alike") or diag(which_calls($from));
	$from = reset_calls($db);

	sql($db, $setup);
	my ($ret, $out, $err) = $node->psql($db, $day, extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
	is($ret, 0, "$db: a day of mojob's work runs as the superuser") or diag($err);
	($ret, $out, $err) = $node->psql($db, $day, extra_params => [ '-U', 'mojob_planner', '-v', 'ON_ERROR_STOP=1' ]);
	is($ret, 0, "$db: and as a planner") or diag($err);
	is(calls($db), '0',
		"$db: reading every view and using every function, the superuser and the planner called no look-alike")
	  or diag(which_calls($from));
}

# Fresh install, look-alikes first.
prepare_db('fresh');
my $planted = plant('fresh', 0);
ok($planted > 20, "fresh: $planted look-alike functions planted");
my $from = reset_calls('fresh');
sql('fresh', 'CREATE EXTENSION mojob CASCADE');
is(sql('fresh', q{SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'btree_gist'}), 'public',
	'fresh: btree_gist went to public, with the look-alikes, so public was on the search_path of the install');
# The planted look-alikes work (the test could not fail otherwise): a query
# that resolves names in public calls them.
is(sql('postgres', q{CREATE DATABASE probe TEMPLATE fresh}) . sql('probe', q{SET search_path = public, pg_catalog;
                  SELECT pg_catalog.setval('public.hostile_call', 1, false);
                  SELECT array_remove(ARRAY['a', 'b']::text[], 'a'::text);
                  SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.hostile_call}), "1\n{b}\n1",
	'a look-alike, once bound, runs and records its call');
check_db('fresh', 'CREATE EXTENSION', $from);

# Upgrade from 1.0, look-alikes first, more once mojob's types exist.
prepare_db('upgraded');
plant('upgraded', 0);
sql('upgraded', q{SET client_min_messages = warning; CREATE EXTENSION mojob VERSION '1.0' CASCADE});
sql('upgraded', q{GRANT USAGE ON SCHEMA mojob TO attacker});
plant('upgraded', 1);
note('look-alike calls while 1.0 was installed: ' . calls('upgraded'));
$from = reset_calls('upgraded');
sql('upgraded', q{ALTER EXTENSION mojob UPDATE});
is(sql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'mojob'}),
	sql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'mojob'}),
	'upgraded: ALTER EXTENSION mojob UPDATE reached the default version');
check_db('upgraded', 'ALTER EXTENSION UPDATE', $from);

# The invariants hold, every row reads back (test/perl/MojobInvariants.pm);
# checked here, before the owner's hand edit below puts a job in a state
# mojob does not know (which verify() rightly reports).
MojobInvariants::check_all($node);

# ---------------------------------------------------------------------
# A value added to mojob.job_state by the owner
# ---------------------------------------------------------------------

sql('clean', q{ALTER TYPE mojob.job_state ADD VALUE 'archived'});
sql('clean', q{
SET client_min_messages = warning;
INSERT INTO mojob.resource (name) VALUES ('vault');
SELECT mojob.reserve(id) FROM mojob.create_job('old', '2030-01-01 10:00+00', '2030-01-01 11:00+00',
                                               resources => ARRAY[(SELECT id FROM mojob.resource WHERE name = 'vault')]);
ALTER TABLE mojob.job DISABLE TRIGGER zz_mojob_guard;
UPDATE mojob.job SET state = 'archived' WHERE name = 'old';
ALTER TABLE mojob.job ENABLE TRIGGER zz_mojob_guard;
});
my ($ret, $svg, $err) = $node->psql('clean',
	q{SELECT mojob.timeline_svg(tstzrange('2030-01-01 00:00+00', '2030-01-02 00:00+00'))});
is($ret, 0, 'timeline_svg draws after the owner added a value to mojob.job_state') or diag($err);
like($svg, qr/data-state="archived"[^>]*fill="#[0-9A-Fa-f]{6}"/, 'a booking in the new state is drawn, in a colour');
like($svg, qr/<text[^>]*>archived<\/text>/, 'the legend shows the new state');
($ret, my $txt, $err) = $node->psql('clean',
	q{SELECT string_agg(l, E'\n') FROM mojob.timeline(tstzrange('2030-01-01 00:00+00', '2030-01-02 00:00+00')) l});
is($ret, 0, 'and so does timeline') or diag($err);
like($txt, qr/^vault\s+ +\?+/m, 'the text timeline marks the booking in the new state with ?');

done_testing();
