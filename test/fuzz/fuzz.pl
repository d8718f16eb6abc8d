#!/usr/bin/perl
# The fuzz suite (README "Guarantees": mojob's promises under attack):
# every function of schema mojob, read from pg_proc so that a new one is
# covered without editing this file, called as the README's planner and
# viewer with generated hostile arguments, each call under statement_timeout
# and timed; then the invariants are checked.
#
#   perl test/fuzz/fuzz.pl            (PGHOST, PGPORT, PGUSER: a superuser)
#
# Environment: FUZZ_SEED (default 15), FUZZ_CALLS (random calls after the
# sweeps of every hostile value in every argument; default 600),
# FUZZ_TIMEOUT (statement_timeout in ms, default 2000), FUZZ_DB (default
# mojob_fuzz, dropped and made anew), FUZZ_KNOWN (default known.txt beside
# this file), FUZZ_VERBOSE=1 (print every call), FUZZ_KEEP=1 (keep the
# database, and the roles, to look into).
#
# Arguments are generated from the seed before any call is made, so a seed
# always gives the same calls; what they meet (the facility as earlier calls
# left it) can differ only by timing. Each call runs in its own transaction
# (SET LOCAL ROLE, statement_timeout, sometimes a hostile mojob.actor), which
# is committed or rolled back as the seed says.
#
# A call fails the suite when it
#   * loses the connection (the backend crashed: "crash");
#   * runs more than a second past statement_timeout ("overrun": it was not
#     canceled in time; the suite then terminates it, or kills it);
#   * raises a SQLSTATE outside README.md's list (MJ001-MJ006, MJ404,
#     42501, 22021, 22008, 22023), the table constraints' 23xxx, and 57014
#     (the timeout itself): XX000, 22P02, 42883, 54001 and the like are bugs;
#   * writes anything as the viewer ("viewer-write": the transaction was
#     given an xid).
# Then: no over-booking (computed here from mojob.booking, and again from the
# jobs and their nodes), the bookings are those of the holding nodes, each
# job's last history row names its state, no series has more than 5,000
# instances, every table and view of schema mojob reads back whole (every
# row's text output), and mojob.verify() is clean when it exists.
#
# Known failures (test/fuzz/known.txt, one line each) are reported as TODO
# instead of failing; each names a function (or an invariant) and an
# outcome, never more.
use strict;
use warnings;
use utf8;
use DBI;
use DBD::Pg qw(:async);
use Time::HiRes qw(time sleep);
use File::Basename qw(dirname);

$| = 1;
my $seed     = $ENV{FUZZ_SEED}    // 15;
my $ncalls   = $ENV{FUZZ_CALLS}   // 600;     # after the sweeps
my $timeout  = $ENV{FUZZ_TIMEOUT} // 2000;    # ms
my $dbname   = $ENV{FUZZ_DB}      // 'mojob_fuzz';
my $known_f  = $ENV{FUZZ_KNOWN}   // dirname(__FILE__) . '/known.txt';
my $verbose  = $ENV{FUZZ_VERBOSE} // 0;
my $grace    = 1.0;                            # s past the timeout before "overrun"
my $t_start  = time;

# ---------------------------------------------------------------------
# TAP
# ---------------------------------------------------------------------

my ($tap_n, $tap_fail, $tap_todo) = (0, 0, 0);
sub diag { my @l = map { split /\n/ } @_; print "# $_\n" for @l }
sub tap {
    my ($ok, $name, $todo, @diag) = @_;
    $tap_n++;
    my $line = ($ok ? 'ok' : 'not ok') . " $tap_n - $name";
    if (!$ok && defined $todo) { $line .= " # TODO $todo"; $tap_todo++ }
    elsif (!$ok) { $tap_fail++ }
    print "$line\n";
    diag(@diag) if @diag;
}
sub skip { $tap_n++; print "ok $tap_n - $_[0] # SKIP $_[1]\n" }
sub bail { print "Bail out! $_[0]\n"; exit 255 }

# ---------------------------------------------------------------------
# Known failures
# ---------------------------------------------------------------------

# <function or invariant:NAME> | <outcome> [/message regex/] | <issue item> | <reproduction>
my @known;
if (open my $fh, '<', $known_f) {
    while (<$fh>) {
        chomp;
        next if /^\s*(#|$)/;
        my ($what, $outcome, $item, $repro) = map { s/^\s+|\s+$//gr } split /\|/, $_, 4;
        bail("$known_f:$.: want 'function | outcome | item | reproduction'")
            unless defined $repro && $what =~ /^(mojob\.\w+|invariant:[\w.-]+)$/;
        my ($kind, $re) = $outcome =~ m{^(\S+)(?:\s+/(.*)/)?$}
            or bail("$known_f:$.: bad outcome '$outcome'");
        bail("$known_f:$.: outcome must be a SQLSTATE, crash, overrun, unreadable, viewer-write, bad-output or fail")
            unless $kind =~ /^([0-9A-Z]{5}|crash|overrun|unreadable|viewer-write|bad-output|fail)$/;
        push @known, { what => $what, kind => $kind, re => $re, item => $item,
                       repro => $repro, line => $., seen => 0 };
    }
}
sub known_match {
    my ($what, $kind, $msg) = @_;
    for my $k (@known) {
        next unless $k->{what} eq $what && $k->{kind} eq $kind;
        next if defined $k->{re} && ($msg // '') !~ /$k->{re}/;
        $k->{seen}++;
        return $k;
    }
    return undef;
}

# ---------------------------------------------------------------------
# A deterministic generator (xorshift32): the same seed, the same calls
# ---------------------------------------------------------------------

my $rs = ($seed * 2654435761 + 12345) & 0xffffffff || 1;
sub rnd {    # an integer in [0, n)
    $rs ^= ($rs << 13) & 0xffffffff;
    $rs ^= $rs >> 17;
    $rs ^= ($rs << 5) & 0xffffffff;
    return $rs % $_[0];
}
sub chance { rnd(1000) < $_[0] * 1000 }
sub pick { $_[rnd(scalar @_)] }

# ---------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------

sub connect_db {
    my ($db, $wait) = @_;
    my $until = time + ($wait // 0);
    while (1) {
        my $h = DBI->connect("dbi:Pg:dbname=$db", undef, undef,
                             { AutoCommit => 1, RaiseError => 0, PrintError => 0, PrintWarn => 0, Warn => 0,
                               pg_server_prepare => 0, pg_placeholder_dollaronly => 1 });
        return $h if $h;
        return undef if time > $until;
        sleep 0.25;
    }
}
sub must {
    my ($h, $sql) = @_;
    my $r = $h->selectall_arrayref($sql) // bail("$sql: " . ($h->errstr // 'no connection'));
    return $r;
}

my $admin = connect_db('postgres', 30) // bail('cannot connect: ' . ($DBI::errstr // ''));
must($admin, 'SET client_min_messages = warning');
must($admin, "DROP DATABASE IF EXISTS $dbname WITH (FORCE)");
must($admin, "CREATE DATABASE $dbname");
$admin->disconnect;

my $own;    # the owner's connection (a superuser)
sub own_connect { $own = connect_db($dbname, 60) // bail("cannot reconnect: $DBI::errstr") }
own_connect();
must($own, $_) for
    'SET client_min_messages = warning',
    'CREATE EXTENSION mojob CASCADE';

# The README's roles, the same way (roles are the cluster's: made if missing,
# dropped at the end if made here).
my %made_role;
for my $r (['mojob_viewer', ''], ['mojob_planner', ' IN ROLE mojob_viewer']) {
    my ($exists) = @{ must($own, "SELECT count(*) FROM pg_roles WHERE rolname = '$r->[0]'")->[0] };
    next if $exists;
    must($own, "CREATE ROLE $r->[0] NOLOGIN$r->[1]");
    $made_role{ $r->[0] } = 1;
}
must($own, $_) for
    'GRANT USAGE ON SCHEMA mojob TO mojob_viewer',
    'GRANT SELECT ON ALL TABLES IN SCHEMA mojob TO mojob_viewer',
    'GRANT INSERT, UPDATE, DELETE ON mojob.job, mojob.job_resource, '
      . 'mojob.recurrence, mojob.recurrence_conflict TO mojob_planner',
    'GRANT USAGE ON ALL SEQUENCES IN SCHEMA mojob TO mojob_planner';
# In case a role existed with more: the planner must be exactly the README's.
for my $r (qw(mojob_viewer mojob_planner)) {
    my ($su) = @{ must($own, "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = '$r'")->[0] };
    bail("role $r exists with superuser or bypassrls") if $su;
}

# ---------------------------------------------------------------------
# A small facility, so that ids that exist are hit
# ---------------------------------------------------------------------

my $seed_sql = <<'SQL';
SET TimeZone = 'UTC';
INSERT INTO mojob.resource (name, concurrency, capacity, capabilities) VALUES
    ('studio', 1, NULL, '{}'), ('camera 1', 1, NULL, '{uhd}'), ('camera 2', 1, NULL, '{}'),
    ('encoder', 4, 10, '{uhd,hdr}'), ('link', 2, NULL, '{}'), ('crew', 3, 100, '{}'),
    ('spare 1', 1, NULL, '{}'), ('spare 2', 1, 1, '{uhd}'), ('spare 3', 1, NULL, '{}'),
    ('spare 4', 1, NULL, '{}'), ('spare 5', 1, NULL, '{}'), ('spare 6', 1, NULL, '{}'),
    ('spare 7', 1, NULL, '{}'), ('spare 8', 1, NULL, '{}'), ('spare 9', 1, NULL, '{}'),
    ('spare 10', 1, NULL, '{}');
INSERT INTO mojob.resource (name, enabled) VALUES ('broken', false);
INSERT INTO mojob.pool (name) VALUES ('cameras'), ('empty');
INSERT INTO mojob.pool_member
    SELECT p.id, r.id FROM mojob.pool p, mojob.resource r
    WHERE p.name = 'cameras' AND r.name IN ('camera 1', 'camera 2', 'broken');
DO $$
DECLARE
    studio bigint := (SELECT id FROM mojob.resource WHERE name = 'studio');
    cam1 bigint := (SELECT id FROM mojob.resource WHERE name = 'camera 1');
    enc bigint := (SELECT id FROM mojob.resource WHERE name = 'encoder');
    link bigint := (SELECT id FROM mojob.resource WHERE name = 'link');
    crew bigint := (SELECT id FROM mojob.resource WHERE name = 'crew');
    broken bigint := (SELECT id FROM mojob.resource WHERE name = 'broken');
    cams bigint := (SELECT id FROM mojob.pool WHERE name = 'cameras');
    j bigint;
BEGIN
    -- draft with an unresolved pool node and a disabled resource
    j := (mojob.create_job('draft show', now() + interval '2 days', now() + interval '2 days 2 hours',
                           resources => ARRAY[studio])).id;
    PERFORM mojob.add_pool_node(j, cams, 'main camera', '{uhd}');
    PERFORM mojob.add_resource(j, broken);
    -- a draft with rolls of a thousand years
    j := (mojob.create_job('long set-up', now() + '4 days', now() + '4 days 1 hour',
                           '1000 years', '1000 years', resources => ARRAY[studio])).id;
    -- tentative, confirmed, with amounts
    j := (mojob.create_job('tentative feed', now() + interval '3 days', now() + interval '3 days 1 hour',
                           '10 minutes', '10 minutes', 'tentative', ARRAY[link])).id;
    PERFORM mojob.add_resource(j, enc, 4, 'encoder a');
    j := (mojob.create_job('confirmed match', now() + interval '1 day', now() + interval '1 day 3 hours',
                           '1 hour', '30 minutes', 'tentative', ARRAY[studio, cam1])).id;
    PERFORM mojob.add_resource(j, crew, 40);
    PERFORM mojob.confirm(j);
    -- an edit lock held by someone else
    j := (mojob.create_job('locked', now() + interval '5 days', now() + interval '5 days 1 hour', state => 'tentative')).id;
    SET LOCAL mojob.actor = 'someone else';
    PERFORM mojob.lock_job(j);
    RESET mojob.actor;
    -- running (started by time), completed in its post-roll, completed, canceled
    j := (mojob.create_job('running', now() + interval '1 second', now() + interval '2 hours',
                           post_roll => '1 hour', state => 'tentative', resources => ARRAY[link])).id;
    PERFORM mojob.confirm(j);
    j := (mojob.create_job('canceled', now() + interval '6 days', now() + interval '6 days 1 hour', state => 'tentative')).id;
    PERFORM mojob.cancel(j, 'rain');
    -- a daily series, a month ahead
    j := (mojob.create_job('daily news', now() + interval '1 day 5 hours', now() + interval '1 day 6 hours',
                           state => 'tentative', resources => ARRAY[crew])).id;
    PERFORM mojob.make_recurring(j, 'FREQ=DAILY', 'Europe/Berlin', '1 mon');
    -- a weekly draft series, canceled
    j := (mojob.create_job('weekly', now() + interval '2 days', now() + interval '2 days 1 hour')).id;
    PERFORM mojob.cancel_recurrence((mojob.make_recurring(j, 'FREQ=WEEKLY', 'UTC', '2 mons')).id, 'off air');
END
$$;
-- jobs in the past: inserted as the owner (a planner cannot make them)
INSERT INTO mojob.job (name, state, pre_roll_start, start_at, end_at, post_roll_end)
VALUES ('completed, in its post-roll', 'completed', now() - interval '3 hours', now() - interval '2 hours',
        now() - interval '1 hour', now() + interval '1 hour'),
       ('completed', 'completed', now() - interval '3 days', now() - interval '3 days', now() - interval '2 days', now() - interval '2 days'),
       ('running long', 'running', now() - interval '1 hour', now() - interval '1 hour', now() + interval '1 day', now() + interval '1 day');
INSERT INTO mojob.job_resource (job_id, resource_id, amount)
    SELECT j.id, r.id, 5 FROM mojob.job j, mojob.resource r
    WHERE j.name IN ('completed, in its post-roll', 'running long') AND r.name = 'encoder';
SQL
my @seed_errors;
# One transaction (now() is its start), then the running job's start passes.
for my $stmt ($seed_sql, 'SELECT pg_sleep(1.1)', 'SELECT mojob.advance()') {
    $own->do($stmt) // push @seed_errors, ($stmt =~ s/\n.*//sr) . ' => ' . $own->errstr;
}
my ($states) = @{ must($own, "SELECT string_agg(DISTINCT state::text, ',' ORDER BY state::text) FROM mojob.job")->[0] };
tap(!@seed_errors && $states eq 'canceled,completed,confirmed,draft,running,tentative',
    "a facility seeded (jobs: $states)", undef, @seed_errors);

# ---------------------------------------------------------------------
# The functions, from the catalog
# ---------------------------------------------------------------------

my @roles = qw(mojob_planner mojob_viewer);
my $procs = must($own, <<'SQL');
SELECT p.oid, p.oid::regprocedure::text, p.proname, p.prorettype = 'trigger'::regtype,
       coalesce(array_to_string(p.proargtypes::regtype[], ','), ''),
       coalesce(array_to_string(p.proargnames[1:p.pronargs], ','), ''),
       p.pronargs, p.pronargdefaults, p.proretset, p.prokind,
       has_function_privilege('mojob_planner', p.oid, 'EXECUTE'),
       has_function_privilege('mojob_viewer', p.oid, 'EXECUTE'),
       coalesce((SELECT string_agg(DISTINCT t.typtype::text, '') FROM unnest(p.proargtypes) a
                 JOIN pg_type t ON t.oid = a), ''),
       -- which arguments default to NULL: there NULL is an ordinary value
       coalesce((SELECT string_agg(coalesce(pg_get_function_arg_default(p.oid, n) ~ '^NULL\M', false)::int::text,
                                   ',' ORDER BY n)
                 FROM generate_series(1, p.pronargs) n), ''),
       p.provolatile
FROM pg_proc p
WHERE p.pronamespace = 'mojob'::regnamespace
ORDER BY p.proname, p.oid
SQL

# Type descriptions for argument types: base type of a domain, element of an
# array, labels of an enum.
my %typeinfo;
for my $row (@{ must($own, <<'SQL') }) {
SELECT DISTINCT a::regtype::text, t.typtype, t.typcategory,
       CASE WHEN t.typcategory = 'A' THEN t.typelem::regtype::text ELSE '' END,
       coalesce(d.typbasetype::regtype::text, ''),
       coalesce((SELECT string_agg(quote_literal(enumlabel), ',' ORDER BY enumsortorder)
                 FROM pg_enum WHERE enumtypid = a), '')
FROM pg_proc p, unnest(p.proargtypes) a
JOIN pg_type t ON t.oid = a
LEFT JOIN pg_type d ON d.oid = t.typbasetype
WHERE p.pronamespace = 'mojob'::regnamespace
SQL
    my ($name, $typtype, $cat, $elem, $base, $labels) = @$row;
    $typeinfo{$name} = { typtype => $typtype, cat => $cat, elem => $elem, base => $base,
                         labels => [ split /,/, $labels ] };
}

# ---------------------------------------------------------------------
# Hostile values, as SQL expressions (each is cast to the argument's type)
# ---------------------------------------------------------------------

my %ids;    # kind -> [ids that exist]
for my $q (['job', 'SELECT id FROM mojob.job ORDER BY id'],
           ['resource', 'SELECT id FROM mojob.resource ORDER BY id'],
           ['pool', 'SELECT id FROM mojob.pool ORDER BY id'],
           ['node', 'SELECT id FROM mojob.job_resource ORDER BY id'],
           ['recurrence', 'SELECT id FROM mojob.recurrence ORDER BY id']) {
    $ids{ $q->[0] } = [ map { $_->[0] } @{ must($own, $q->[1]) } ];
}
# Ids found when the call runs: the newest, one in each state, the jobs at
# the extremes of time, a resource that nothing holds.
my @extreme_jobs = map { "(SELECT id FROM mojob.job ORDER BY $_ LIMIT 1)" }
    'start_at - pre_roll_start DESC', 'post_roll_end - end_at DESC',
    'pre_roll_start', 'post_roll_end DESC', 'post_roll_end - pre_roll_start DESC';
my $free_resource = '(SELECT min(r.id) FROM mojob.resource r WHERE r.enabled AND NOT EXISTS '
                  . '(SELECT FROM mojob.booking b JOIN mojob.job j ON j.id = b.job_id '
                  . "WHERE b.resource_id = r.id AND (j.state <> 'completed' OR j.post_roll_end > now())))";
my %live_ids = (
    job => [ '(SELECT max(id) FROM mojob.job)',
             (map { "(SELECT min(id) FROM mojob.job WHERE state = '$_')" }
                  qw(draft tentative confirmed running completed canceled)),
             @extreme_jobs ],
    node => [ '(SELECT max(id) FROM mojob.job_resource)',
              '(SELECT min(id) FROM mojob.job_resource WHERE resource_id IS NULL)' ],
    recurrence => [ '(SELECT max(id) FROM mojob.recurrence)' ],
    resource => [ '(SELECT max(id) FROM mojob.resource)', $free_resource ],
    pool => [ '(SELECT max(id) FROM mojob.pool)' ],
);

my $million = 'generate_series(1, 1000000) g';
my @bigint_extreme = ('0', '-1', '1', '9223372036854775807', '(-9223372036854775807 - 1)',
                      '2147483648', '1000000000');
my @ts = ("'infinity'", "'-infinity'", "'4713-01-01 00:00:00+00 BC'", "'294276-12-31 23:59:59.999999+00'",
          "'294276-12-31 00:00:00+00'", "'0001-01-01 00:00:00+00'", "'1999-01-01 00:00:00+00'",
          "'epoch'", 'now()', "now() + interval '1 hour'", "now() + interval '1 day'", "now() + interval '1 day 1 hour'",
          "now() - interval '1 day'", "now() + interval '2 days'", "now() - interval '1 microsecond'", "now() + interval '1 microsecond'",
          "date_trunc('hour', now()) + interval '1 day'", "now() + interval '100 years'", "now() + interval '292000 years'",
          "now() + interval '3 days 30 minutes'", "'2030-03-31 02:30:00 Europe/Berlin'");
my @interval = ("'0'", "'-1 second'", "'1 microsecond'", "'1 hour'", "'1 day'", "'-1 day'",
                "'1 mon'", "'1 year'", "'1000 years'", "'292000 years'", "'178000000 years'",
                "'-178000000 years'", "'2147483647 days'", "'1 mon -30 days'",
                "'9223372036854775807 microseconds'", "'-9223372036854775807 microseconds'",
                "'23 hours'", "'10 minutes'");
my @numeric = ('0', '-1', '1', '0.5', '4', "'NaN'", "'Infinity'", "'-Infinity'", "'1e1000'",
               "'-1e1000'", "'1e-1000'", '1e300', '9999999999999999999999');
my @tstzrange = ("'empty'", "'(,)'", "'[-infinity,infinity)'", "tstzrange(now(), now() + interval '1 day')",
                 "tstzrange(now() - interval '1 day', now() + interval '7 days')", "tstzrange(now(), now() + interval '1 microsecond')",
                 "tstzrange('4713-01-01 00:00:00+00 BC', '294276-12-31 23:59:59+00')",
                 "tstzrange(now(), NULL)", "tstzrange(NULL, now())", "tstzrange('-infinity', now())",
                 "tstzrange(now(), 'infinity')", "'[2000-01-01,2000-01-01]'",
                 "tstzrange(now() - interval '1000 years', now() + interval '1000 years')",
                 "tstzrange(now() + interval '1 day', now() + interval '1 day 3 hours', '(]')",
                 "tstzrange('4713-01-01 00:00:00+00 BC', now())");
my $ctl = join '', map { sprintf '\\x%02x', $_ } 1 .. 31, 127;
my @text = ("''", "'x'", "'studio'", "E'$ctl'", "chr(65534) || chr(65535)", "'a' || chr(65535)",
            "repeat('x', 100000)", "repeat(E'\\x01<&\\'', 25000)", "\$q\$'; DROP TABLE mojob.job; --\$q\$",
            "E'\\\\'", "'%s %n %1\$s %%'", "'<a href=\"x\">&amp;</a>]]><![CDATA[<!--'",
            "'ü ☃ 😀 ' || chr(8238) || 'rtl'", "E'two\\nlines\\r\\n\\ttab'", "'NULL'", "' '",
            "repeat('é', 20000)");
my @rule = ("'FREQ=DAILY'", "'FREQ=WEEKLY;BYDAY=SA'", "'FREQ=DAILY;COUNT=3'", "''", "'garbage'",
            "'RRULE:FREQ=DAILY'", "'FREQ=DAILY;COUNT=2147483647'", "'FREQ=DAILY;INTERVAL=2147483647'",
            "'FREQ=DAILY;INTERVAL=0'", "'FREQ=DAILY;COUNT=0'", "'FREQ=DAILY;COUNT=-1'",
            "'FREQ=DAILY;BYHOUR=25'", "'FREQ=DAILY;UNTIL=19000101T000000Z'",
            "'FREQ=DAILY;UNTIL=99991231T000000Z'", "'FREQ=MONTHLY;BYSETPOS=-366;BYDAY=MO'",
            "'FREQ=WEEKLY;BYWEEKNO=53;BYDAY=MO'", "'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30'",
            "'FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30'", "'FREQ=MINUTELY'", "'FREQ=SECONDLY'",
            "'FREQ=SECONDLY;BYSECOND=60'", "'FREQ=YEARLY;BYYEARDAY=366;BYMONTH=2'",
            "'FREQ=DAILY;X-FOO=1;' || repeat('BYDAY=MO;', 1000)", "'FREQ=HOURLY;INTERVAL=1'",
            "'FREQ=MONTHLY;BYMONTHDAY=-1'", "'FREQ=DAILY;BYDAY=MO;BYMONTHDAY=31;BYMONTH=2'");
my @zone = ("'UTC'", "'Europe/Berlin'", "'America/St_Johns'", "'Pacific/Kiritimati'", "'X]]><Y&5'",
            "'garbage'", "'+14'", "'UTC+2147483647'", "''", "'posixrules'", "'../../etc/passwd'");
my @pattern = ("'JOB-{seq:6}'", "'{seq}'", "'{seq:0}'", "'{seq:2147483647}'", "'{seq:99}'",
               "'{YYYY}-{MM}-{DD}-{seq}'", "'{'", "'}'", "'{seq'", "'plain'",
               "repeat('{seq}', 10000)", "repeat('x', 9000)");
my @action = map { "'$_'" } qw(edit delete reserve confirm unconfirm start stop cancel nothing), '';
my @jsonb = ("'{}'", "'[]'", "'null'", "'\"x\"'", "'{\"a\": {\"b\": [1, 2, null]}}'",
             "repeat('[', 1000) || repeat(']', 1000)", "repeat('{\"a\":', 1000) || '1' || repeat('}', 1000)",
             "(SELECT jsonb_agg(g) FROM $million)",
             "(SELECT jsonb_object_agg(g::text, repeat('v', 10)) FROM generate_series(1, 100000) g)",
             "jsonb_build_object('k', chr(65535) || E'\\x01')", "'1e1000'");
my @integer = ('0', '-1', '1', '9', '10', '72', '1000', '1001', '2147483647', '(-2147483647 - 1)');
my @boolean = ('true', 'false');

sub id_values {
    my ($kind) = @_;
    my @exist = @{ $ids{$kind} // [ map { @$_ } values %ids ] };
    my $max = 0;
    $max < $_ and $max = $_ for @exist;
    return (@exist, @{ $live_ids{$kind} // [] }, $max + 1000, @bigint_extreme);
}
sub id_kind {
    my ($argname) = @_;
    return 'resource' if $argname =~ /resource/;
    return $argname if $argname =~ /^(job|pool|node|recurrence)$/;
    return undef;
}
sub array_values {
    my ($elem, $argname) = @_;
    my @v = ("'{}'", "'{NULL}'");
    if ($elem eq 'bigint' || $elem eq 'integer') {
        my @e = grep { /^\d+$/ } id_values(id_kind($argname =~ s/s$//r) // 'resource');
        push @v, 'ARRAY[' . join(',', @e[0 .. ($#e < 3 ? $#e : 3)]) . ']' if @e;
        push @v, "ARRAY[$e[0], $e[0]]", "ARRAY[$e[0], NULL]" if @e;
        push @v, "'{{1,2},{3,4}}'", "'[5:7]={1,2,3}'", "'{-1,0,9223372036854775807}'",
                 "(SELECT array_agg(g) FROM $million)",
                 "(SELECT array_agg(g % 7 + 1) FROM generate_series(1, 300000) g)",
                 "(SELECT array_agg(g) FROM generate_series(1, 10000) g)";
    } elsif ($elem eq 'text') {
        push @v, "'{uhd}'", "'{uhd,hdr}'", "'{{uhd,hdr},{a,b}}'", "'[0:0]={uhd}'",
                 "ARRAY['uhd', NULL]", "ARRAY[E'$ctl', chr(65535)]", "ARRAY[repeat('x', 100000)]",
                 "(SELECT array_agg(g::text) FROM $million)";
    } elsif (my $ti = $typeinfo{$elem}) {
        push @v, 'ARRAY[' . join(',', @{ $ti->{labels} }) . "]::$elem\[]" if @{ $ti->{labels} };
    }
    return @v;
}
# Candidate values for an argument, by type and (for ids, rules, zones) name.
sub values_for {
    my ($type, $argname) = @_;
    my $ti = $typeinfo{$type} // {};
    return values_for($ti->{base}, $argname) if ($ti->{typtype} // '') eq 'd';
    return @{ $ti->{labels} } if @{ $ti->{labels} // [] };
    return array_values($ti->{elem}, $argname) if ($ti->{cat} // '') eq 'A';
    for ($type) {
        if ($_ eq 'bigint') {
            my $k = id_kind($argname);
            return $k ? id_values($k) : (@bigint_extreme, id_values('job'));
        }
        return @integer if $_ eq 'integer' || $_ eq 'smallint';
        return @boolean if $_ eq 'boolean';
        return @numeric if $_ eq 'numeric' || $_ eq 'double precision' || $_ eq 'real';
        return @ts if $_ eq 'timestamp with time zone' || $_ eq 'timestamp without time zone';
        return @interval if $_ eq 'interval';
        return @tstzrange if $_ eq 'tstzrange';
        return @jsonb if $_ eq 'jsonb' || $_ eq 'json';
        if ($_ eq 'text' || $_ eq 'character varying' || $_ eq 'name') {
            return (@rule, @rule, @text) if $argname eq 'rule';
            return (@zone, @zone, @text) if $argname eq 'time_zone';
            return (@pattern, @pattern, @text) if $argname eq 'pattern';
            return (@action, @action, @text) if $argname eq 'action';
            return @text;
        }
    }
    return ();    # unknown type: NULL only
}

# Ordinary values, so that a call can get past the first check: most calls
# are ordinary but for one or two hostile arguments.
sub sane_for {
    my ($type, $argname) = @_;
    my $ti = $typeinfo{$type} // {};
    return sane_for($ti->{base}, $argname) if ($ti->{typtype} // '') eq 'd';
    # A new job is made in a state that holds, mostly.
    return ("'draft'", "'tentative'", "'tentative'") if $type eq 'mojob.job_state' && $argname eq 'state';
    return @{ $ti->{labels} } if @{ $ti->{labels} // [] };
    if (($ti->{cat} // '') eq 'A') {
        return ("'{}'", "'{uhd}'") if $ti->{elem} eq 'text';
        return ("'{}'", (map { "ARRAY[$_]" } @{ $ids{resource} }, ($free_resource) x 6),
                "ARRAY[$ids{resource}[1], $ids{resource}[3]]")
            if $ti->{elem} eq 'bigint' && @{ $ids{resource} } > 3;
        return ("'{}'");
    }
    for ($type) {
        if ($_ eq 'bigint') {
            my $k = id_kind($argname) // 'job';
            return (@{ $ids{$k} // [] }, @{ $live_ids{$k} // [] }) if @{ $ids{$k} // [] };
            return ('1');
        }
        return ('10', '72') if $_ eq 'integer';
        return ('false', 'true') if $_ eq 'boolean';
        return ('0', '1', '4') if $_ eq 'numeric';
        if ($_ eq 'timestamp with time zone') {
            return ("now() + interval '7 days'", "now() + interval '1 mon'") if $argname eq 'until';
            return ("now() + interval '1 day 1 hour'", "now() + interval '2 days 2 hours'",
                    "now() + interval '4 days'") if $argname =~ /end/;
            return ('now()', "now() + interval '1 day'", "now() + interval '2 days'",
                    "now() + interval '1 hour'", "now() + interval '3 days 30 minutes'");
        }
        if ($_ eq 'interval') {
            return ("'2 days'", "'1 mon'", "'1 year'") if $argname eq 'horizon';
            return ("'0'", "'10 minutes'", "'1 hour'");
        }
        return ("tstzrange(now(), now() + interval '1 day')",
                "tstzrange(now() - interval '1 day', now() + interval '7 days')") if $_ eq 'tstzrange';
        return ("'{}'", "'{\"a\": 1}'") if $_ eq 'jsonb';
        if ($_ eq 'text') {
            return ("'FREQ=DAILY'", "'FREQ=WEEKLY;BYDAY=SA'", "'FREQ=DAILY;COUNT=3'") if $argname eq 'rule';
            return ("'UTC'", "'Europe/Berlin'") if $argname eq 'time_zone';
            return ("'JOB-{seq:6}'", "'{YYYY}-{seq}'") if $argname eq 'pattern';
            return ("'edit'", "'start'", "'cancel'") if $argname eq 'action';
            return ("'fuzz'", "'a show'");
        }
    }
    return ();
}

# Check each candidate once as the owner: a value PostgreSQL itself cannot
# build (a jsonb nested too deep) would blame mojob for nothing.
my (%pool, %sane, %pool_dropped, %null_only);
for my $p (@$procs) {
    my (undef, undef, undef, $is_trigger, $types, $names) = @$p;
    next if $is_trigger;
    my @t = split /,/, $types;
    my @n = split /,/, $names;
    for my $i (0 .. $#t) {
        my $key = "$t[$i]\0" . ($n[$i] // '');
        next if $pool{$key};
        my (@ok, @sane);
        my %seen;
        for my $v (values_for($t[$i], $n[$i] // ''), sane_for($t[$i], $n[$i] // '')) {
            next if $seen{$v}++;
            if ($own->do("SELECT pg_column_size(($v)::$t[$i])")) { push @ok, $v }
            else { $pool_dropped{"($v)::$t[$i]: " . ($own->errstr =~ s/\n.*//sr)} = 1 }
        }
        my %ok = map { $_ => 1 } @ok;
        @sane = grep { $ok{$_} } sane_for($t[$i], $n[$i] // '');
        $null_only{ $t[$i] } = 1 unless @ok;
        $pool{$key} = \@ok;
        $sane{$key} = @sane ? \@sane : \@ok;
    }
}
diag("value not buildable, left out: $_") for sort keys %pool_dropped;
diag("type $_: no generator, fuzzed with NULL only") for sort keys %null_only;

# ---------------------------------------------------------------------
# The calls, all generated before the first is made
# ---------------------------------------------------------------------

my (@targets, @calls);
for my $p (@$procs) {
    my ($oid, $sig, $name, $is_trigger, $types, $names, $nargs, $ndef, $retset, $kind,
        $x_planner, $x_viewer, undef, $null_default, $volatile) = @$p;
    if ($is_trigger) { skip("$sig", 'trigger function'); next }
    if ($kind ne 'f') { skip("$sig", "prokind $kind"); next }
    my %may = (mojob_planner => $x_planner, mojob_viewer => $x_viewer);
    for my $role (@roles) {
        if (!$may{$role}) { skip("$sig as $role", "$role may not execute it"); next }
        push @targets, { sig => $sig, name => "mojob.$name", role => $role,
                         null_ok => [ split /,/, $null_default ], writes => $volatile eq 'v',
                         types => [ split /,/, $types ], names => [ split /,/, $names ],
                         nargs => $nargs, ndef => $ndef };
    }
}
bail('no function to fuzz') unless @targets;
my @actors = ("E'$ctl'", "chr(65534) || chr(65535)", "repeat('a', 100000)", "''",
              "'<b>&amp;</b>'", "\$q\$o'brien\$q\$");
my %actor_literal = map { $_ => $own->selectrow_array("SELECT quote_literal($_)") } @actors;
my @zones = grep { $own->do("SET TimeZone = $_") }
    ("'Europe/Berlin'", "'America/St_Johns'", "'Pacific/Kiritimati'", "'X]]><Y&5'", "'<+0545>-5:45'");
$own->do("SET TimeZone = 'UTC'");
my ($has_xml) = $own->selectrow_array("SELECT xml_is_well_formed_document('<a/>')");

# One call: argument a of t from the hostile pool where $hostile{a}, from the
# ordinary values elsewhere; NULL sometimes. $hostile{a} is the value, or '*'
# for one picked from the pool.
sub make_call {
    my ($t, $n, $null_share, %hostile) = @_;
    my (@args, @marks);
    for my $a (0 .. $n - 1) {
        my $type = $t->{types}[$a];
        my $key = "$type\0" . ($t->{names}[$a] // '');
        my $v = $hostile{$a};
        if ($hostile{$a} && $v eq '*') {
            $v = (!@{ $pool{$key} } || chance($null_share)) ? 'NULL' : pick(@{ $pool{$key} });
        } elsif (!$hostile{$a}) {
            my @v = (@{ $sane{$key} }, $t->{null_ok}[$a] ? ('NULL') : ());
            $v = @v ? pick(@v) : 'NULL';
        }
        push @marks, "$a=$v" if $hostile{$a};
        push @args, "($v)::$type";
    }
    my $call = "$t->{name}(" . join(', ', @args) . ')';
    # The output of every row is made (and, for XML, parsed) on the server.
    my $check = '';
    $check = ", bool_and(xml_is_well_formed_document(r::text))" if $has_xml && $t->{name} =~ /_svg$/;
    $check = ", bool_and(xml_is_well_formed_content(r::text))" if $has_xml && $t->{name} =~ /^mojob\.xml_/;
    # A function that may write returns what it stored: that is read back
    # apart (below), so that a row stored unreadable is not taken for a
    # refusal.
    my $out = $t->{writes} ? '' : ', sum(length(r::text))';
    return { t => $t, sql => "SELECT count(*)$out$check FROM $call AS r",
             xml => $check ne '', marks => \@marks,
             actor => chance(0.1) ? pick(@actors) : undef,
             zone => chance(0.1) && @zones ? pick(@zones) : undef,
             commit => chance(0.5) };
}

# First, pairs of extremes: every two time or interval arguments of a
# function (start and end, a start and a roll) at the limits together, twice
# each: on a resource that nothing holds (where an extreme window can be
# accepted, so that later checks meet it), a job at the extremes of time and
# NULL where NULL keeps what is stored, then with ordinary arguments.
my %extreme = (
    'timestamp with time zone' => ["'4713-01-01 00:00:00+00 BC'", "'0001-01-01 00:00:00+00'",
                                   "'1999-01-01 00:00:00+00'", 'now()', "now() + interval '1 day'",
                                   "'294276-12-31 00:00:00+00'", "'294276-12-31 23:59:59.999999+00'"],
    'interval' => ["'0'", "'1000 years'", "'292000 years'", "'178000000 years'"],
);
my $nextreme = 0;
for my $t (@targets) {
    my @ax = grep { $extreme{ $t->{types}[$_] } } 0 .. $t->{nargs} - 1;
    my %free = map { ($_ => $t->{types}[$_] =~ /\[\]$/ ? "ARRAY[$free_resource]" : $free_resource) }
        grep { ($t->{names}[$_] // '') =~ /^resources?$/ } 0 .. $t->{nargs} - 1;
    # NULL where it means "keep" or "the default": derived from what is stored
    my %keep = map { $_ => 'NULL' } grep { $t->{null_ok}[$_] } 0 .. $t->{nargs} - 1;
    my @job_args = grep { ($t->{names}[$_] // '') eq 'job' && $t->{types}[$_] eq 'bigint' } 0 .. $t->{nargs} - 1;
    for my $i (0 .. $#ax) {
        for my $j ($i + 1 .. $#ax) {
            for my $vi (@{ $extreme{ $t->{types}[ $ax[$i] ] } }) {
                for my $vj (@{ $extreme{ $t->{types}[ $ax[$j] ] } }) {
                    # A window of two instants is tried on each job at the
                    # extremes; other pairs on one of them in turn.
                    my $both_times = $t->{types}[ $ax[$i] ] eq $t->{types}[ $ax[$j] ]
                        && $t->{types}[ $ax[$i] ] =~ /^timestamp/;
                    for my $k ($both_times && @job_args ? (0 .. $#extreme_jobs) : ($nextreme++)) {
                        my %extreme_job = map { $_ => $extreme_jobs[ $k % @extreme_jobs ] } @job_args;
                        my $c = make_call($t, $t->{nargs}, 0, %free, %extreme_job, %keep,
                                          $ax[$i] => $vi, $ax[$j] => $vj);
                        $c->{commit} = 1;    # left for the later calls to meet
                        push @calls, $c;
                    }
                    push @calls,
                                 make_call($t, $t->{nargs}, 0, $ax[$i] => $vi, $ax[$j] => $vj);
                }
            }
        }
    }
}
# Then every hostile value (and NULL) in every argument of every function,
# once for each role, the other arguments ordinary.
for my $t (@targets) {
    if ($t->{nargs} == 0) { push @calls, make_call($t, 0, 0) for 1 .. 3; next }
    for my $a (0 .. $t->{nargs} - 1) {
        my $key = "$t->{types}[$a]\0" . ($t->{names}[$a] // '');
        push @calls, make_call($t, $t->{nargs}, 0, $a => $_) for 'NULL', @{ $pool{$key} };
    }
}
my $nsweep = @calls;
# Then random calls: a fifth ordinary, most with one or two hostile arguments
# among ordinary ones, a fifth hostile throughout; trailing defaults left out
# now and then.
for my $i (0 .. $ncalls - 1) {
    my $t = $targets[ $i % @targets ];
    my $n = $t->{nargs};
    $n -= rnd($t->{ndef} + 1) if $t->{ndef} && chance(0.3);
    my $mode = rnd(5);
    my %hostile;
    if ($mode == 4 || $n == 0) { %hostile = map { $_ => '*' } 0 .. $n - 1 }
    elsif ($mode > 0) { $hostile{ rnd($n) } = '*' for 1 .. ($mode == 3 ? 2 : 1) }
    push @calls, make_call($t, $n, $mode == 4 ? 0.1 : 0.2, %hostile);
}

# ---------------------------------------------------------------------
# Running them
# ---------------------------------------------------------------------

my $fz;          # the fuzzed session
my $fz_pid;
sub fz_connect {
    $fz = connect_db($dbname, 60) // bail("cannot reconnect: $DBI::errstr");
    $fz->{AutoCommit} = 0;
    ($fz_pid) = $fz->selectrow_array('SELECT pg_backend_pid()');
    $fz->rollback;
}
fz_connect();

sub alive { my $h = shift; $h && $h->ping > 0 }
sub reconnect_all {
    # After a crash the postmaster restarts every backend: wait for it.
    $own = undef; $fz = undef;
    own_connect();
    fz_connect();
}

# Stop a call that overran: cancel, terminate, then SIGKILL (from the server,
# which runs as the backend's owner), which restarts the cluster.
sub stop_backend {
    my ($pid) = @_;
    own_connect() unless alive($own);
    $own->do("SELECT pg_terminate_backend($pid, 100)");
    my ($still) = $own->selectrow_array("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid");
    return 'terminated' unless $still;
    $own->do("COPY (SELECT 1) TO PROGRAM 'kill -KILL $pid'");
    # The postmaster now ends every backend, this one too, and restarts:
    # connect again only after that.
    for (1 .. 200) { last unless alive($own); sleep 0.05 }
    return 'killed (SIGKILL: the cluster restarted)';
}

# Run one statement asynchronously; returns (ok, sqlstate, message, elapsed,
# how it was stopped if it overran).
sub timed {
    my ($sql, $limit) = @_;
    my $t0 = time;
    my $sth = $fz->prepare($sql, { pg_async => PG_ASYNC });
    $sth && $sth->execute
        or return (0, $fz->state, $fz->errstr, time - $t0, undef);
    while (1) {
        my $ready = $fz->pg_ready;
        last if $ready;            # 1 ready, -1 connection trouble
        if (time - $t0 > $limit) {
            my $how = stop_backend($fz_pid);
            return (0, 'overrun', "still running after " . sprintf('%.1f', time - $t0) . " s; $how",
                    time - $t0, $how);
        }
        sleep 0.002;
    }
    my $r = $fz->pg_result;
    my $el = time - $t0;
    return (0, $fz->state, $fz->errstr, $el, undef) unless defined $r;
    my $row = $sth->fetchrow_arrayref;
    $sth->finish;
    return (1, '00000', undef, $el, undef, [ @{ $row // [] } ]);
}

# The rows of mojob's tables written by the current transaction, each made
# into text.
my $written_sql = 'SELECT sum(n) FROM ('
    . join(' UNION ALL ', map { "SELECT sum(length(t::text)) AS n FROM $_->[0] t "
                                . "WHERE t.xmin = (txid_current_if_assigned() % 4294967296)::text::xid" }
               @{ must($own, "SELECT c.oid::regclass::text FROM pg_class c "
                             . "WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind IN ('r', 'p')") })
    . ') s';

my %stat;       # target -> { calls, outcome -> n, max }
my %bad;        # target -> [ diag lines ]
my %todo;       # target -> { known line -> n }
my %poison;     # function and hostile argument of a known overrun -> 1
my $calls_run = 0;
my $max_elapsed = 0;
my $limit = $timeout / 1000 + $grace;
for my $c (@calls) {
    my $t = $c->{t};
    my $key = "$t->{sig} as $t->{role}";
    my $st = $stat{$key} //= { calls => 0, max => 0 };
    # A value that made this function overrun (a known failure) costs
    # seconds and a restart each time: it is not tried again in this run.
    if (grep { $poison{"$t->{name}\0$_"} } @{ $c->{marks} }) { $st->{'skipped (known overrun)'}++; next }
    $st->{calls}++;
    $calls_run++;
    my @setup = ("SET LOCAL ROLE $t->{role}", "SET LOCAL statement_timeout = $timeout",
                 'SET LOCAL TimeZone = ' . ($c->{zone} // "'UTC'"));
    # SET LOCAL mojob.actor cannot take an expression: evaluate it first.
    push @setup, "SET LOCAL mojob.actor = " . $actor_literal{ $c->{actor} } if $c->{actor};
    my $setup = join '; ', @setup;
    if (!$fz->do($setup)) {
        bail("$setup: " . $fz->errstr) if alive($fz);
        # Ended from outside (a restart of the cluster): once more.
        reconnect_all();
        $fz->do($setup) or bail("$setup: " . $fz->errstr);
    }
    my ($ok, $state, $msg, $el, $stopped, $row) = timed($c->{sql}, $limit);
    my $outcome = $ok ? 'ok' : $state;
    my $lost = !$ok && !$stopped && !alive($fz);
    $outcome = 'crash' if $lost;
    if ($ok) {
        # What is drawn as XML parses as XML.
        if ($c->{xml} && defined $row->[2] && !$row->[2]) {
            $outcome = 'bad-output';
            $msg = 'the output is not well-formed XML';
        }
        # Every row the call wrote reads back (its text output).
        if ($t->{writes} && !$fz->do($written_sql)) {
            $outcome = 'unreadable';
            $msg = 'a row it wrote does not read back: ' . $fz->state . ' ' . $fz->errstr;
        }
        # The viewer writes nothing: its transaction has no xid.
        if ($t->{role} eq 'mojob_viewer') {
            my ($xid) = $fz->selectrow_array('SELECT txid_current_if_assigned()');
            $outcome = 'viewer-write' if defined $xid;
        }
        if ($c->{commit} && $outcome eq 'ok') {
            $fz->commit or do { $outcome = $fz->state || 'crash'; $msg = 'COMMIT: ' . $fz->errstr };
        }
    }
    if (alive($fz)) { $fz->rollback } else { reconnect_all() }
    $outcome = 'overrun' if $el > $limit && $outcome ne 'crash';
    $st->{$outcome}++;
    $st->{max} = $el if $el > $st->{max};
    $max_elapsed = $el if $el > $max_elapsed;
    my $line = sprintf('[%s] %.3f s: %s', $outcome, $el, ($msg // '') =~ s/\n.*//sr);
    print "# call $calls_run as $t->{role}: $c->{sql} => $line\n" if $verbose;
    next if $outcome =~ /^(ok|MJ00[1-6]|MJ404|42501|22021|22008|22023|57014|23...)$/;
    my $repro = "-- as $t->{role}" . ($c->{actor} ? ", mojob.actor = $c->{actor}" : '')
              . ($c->{zone} ? ", TimeZone = $c->{zone}" : '')
              . ", statement_timeout = ${timeout}ms: $c->{sql};";
    if (my $k = known_match($t->{name}, $outcome, $msg)) {
        $todo{$key}{"known.txt:$k->{line} ($k->{item})"}++;
        $poison{"$t->{name}\0$_"} = 1 for $outcome eq 'overrun' ? @{ $c->{marks} } : ();
        print "# known (known.txt:$k->{line}): $repro => $line\n" if $verbose;
    } else {
        push @{ $bad{$key} }, "$repro\n  => $line";
    }
}

for my $key (sort keys %stat) {
    my $st = $stat{$key};
    my $counts = join ', ', map { "$_ $st->{$_}" } sort grep { !/^(calls|max)$/ } keys %$st;
    my $name = sprintf('%s: %d calls (%s), slowest %.2f s', $key, $st->{calls}, $counts, $st->{max});
    if ($bad{$key}) {
        my @d = @{ $bad{$key} };
        tap(0, $name, undef, "unexpected outcomes (" . scalar(@d) . "):", @d[0 .. ($#d < 4 ? $#d : 4)],
            @d > 5 ? ('... ' . (@d - 5) . ' more like these') : ());
    } elsif ($todo{$key}) {
        tap(0, $name, 'known: ' . join(', ', map { "$_ x$todo{$key}{$_}" } sort keys %{ $todo{$key} }));
    } else {
        tap(1, $name);
    }
}

# ---------------------------------------------------------------------
# The invariants, as the owner
# ---------------------------------------------------------------------

own_connect() unless alive($own);
$own->do("SET TimeZone = 'UTC'");
my $holding = <<'SQL';
SELECT n.id AS node_id, n.job_id, n.resource_id, n.amount,
       tstzrange(coalesce(n.held_from, j.pre_roll_start), coalesce(n.held_until, j.post_roll_end)) AS held
FROM mojob.job j
JOIN mojob.job_resource n ON n.job_id = j.id
WHERE n.resource_id IS NOT NULL
  AND (j.state IN ('tentative', 'confirmed', 'running')
       OR (j.state = 'completed' AND j.post_roll_end > now()))
  AND coalesce(n.held_from, j.pre_roll_start) < coalesce(n.held_until, j.post_roll_end)
SQL
# Over-booked where: the peak of a resource's use is at the start of one of
# its bookings, so each start is tried.
my $overbooked = <<'SQL';
SELECT r.name AS resource, lower(b1.held) AS at, count(*) AS holding, r.concurrency,
       sum(b2.amount) AS amount, r.capacity, string_agg(b2.job_id::text, ',' ORDER BY b2.job_id) AS jobs
FROM %s b1
JOIN %s b2 ON b2.resource_id = b1.resource_id AND b2.held @> lower(b1.held)
JOIN mojob.resource r ON r.id = b1.resource_id
GROUP BY b1.node_id, b1.resource_id, lower(b1.held), r.name, r.concurrency, r.capacity
HAVING count(*) > r.concurrency OR sum(b2.amount) > r.capacity
ORDER BY 1, 2
LIMIT 10
SQL
# The bookings that hold now: a completed job's booking stays after its
# post-roll, and holds nothing then.
my $booked = <<'SQL';
SELECT b.* FROM mojob.booking b
WHERE NOT EXISTS (SELECT FROM mojob.job j WHERE j.id = b.job_id AND j.state = 'completed'
                  AND j.post_roll_end <= now())
SQL
my @checks = (
    ['over-booking (mojob.booking)', "WITH h AS ($booked) " . sprintf($overbooked, 'h', 'h')],
    ['over-booking (the jobs and their nodes)',
     "WITH h AS ($holding) " . sprintf($overbooked, 'h', 'h')],
    ['bookings are the holding nodes\' windows', <<"SQL"],
WITH h AS ($holding)
(SELECT 'missing' AS what, node_id, job_id, resource_id, held, amount FROM h
 EXCEPT SELECT 'missing', node_id, job_id, resource_id, held, amount FROM mojob.booking)
UNION ALL
(SELECT 'extra', b.node_id, b.job_id, b.resource_id, b.held, b.amount FROM mojob.booking b
 WHERE NOT EXISTS (SELECT FROM mojob.job j WHERE j.id = b.job_id AND j.state = 'completed'
                   AND j.post_roll_end <= now())
 EXCEPT SELECT 'extra', node_id, job_id, resource_id, held, amount FROM h)
ORDER BY 2 LIMIT 10
SQL
    ['each job\'s last history row names its state', <<'SQL'],
SELECT j.id, j.state, e.to_state FROM mojob.job j
CROSS JOIN LATERAL (SELECT to_state FROM mojob.job_event e WHERE e.job_id = j.id
                    ORDER BY e.id DESC LIMIT 1) e
WHERE e.to_state <> j.state ORDER BY j.id LIMIT 10
SQL
    ['no series has more than 5,000 instances', <<'SQL'],
SELECT recurrence_id, count(*) FROM mojob.job WHERE recurrence_id IS NOT NULL
GROUP BY 1 HAVING count(*) > 5000
SQL
);
my $rels = must($own, <<'SQL');
SELECT c.oid::regclass::text, c.relkind FROM pg_class c
WHERE c.relnamespace = 'mojob'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
ORDER BY c.relkind DESC, 1
SQL
for my $rel (@$rels) {
    push @checks, ["$rel->[0] reads back (every row's text output)", "SELECT t::text FROM $rel->[0] t",
                   'read'];
    push @checks, ["$rel->[0] reads back with SELECT *", "SELECT * FROM $rel->[0]", 'read'];
}
my ($has_verify) = $own->selectrow_array("SELECT to_regprocedure('mojob.verify()') IS NOT NULL");
if ($has_verify) {
    push @checks, ['mojob.verify() is clean', 'SELECT check_name, detail FROM mojob.verify() WHERE NOT ok'];
    push @checks, ['mojob.verify() is clean as the viewer',
                   'SET ROLE mojob_viewer; SELECT check_name, detail FROM mojob.verify() WHERE NOT ok; RESET ROLE',
                   'viewer'];
} else {
    skip('mojob.verify() is clean', 'mojob.verify() does not exist yet');
}
for my $c (@checks) {
    my ($name, $sql, $how) = @$c;
    my $id = $name =~ s/[^a-z0-9.]+/-/gir =~ s/^-|-$//gr;
    my @d;
    if (($how // '') eq 'viewer') {
        my @parts = split /; /, $sql;
        $own->do($parts[0]);
        my $r = $own->selectall_arrayref($parts[1]);
        @d = defined $r ? map { join(' | ', map { $_ // 'NULL' } @$_) } @$r : ('ERROR ' . $own->state . ': ' . $own->errstr);
        $own->do($parts[2]);
    } else {
        my $r = $own->selectall_arrayref($sql);
        if (!defined $r) { @d = ('ERROR ' . $own->state . ': ' . $own->errstr) }
        elsif (($how // '') ne 'read') { @d = map { join(' | ', map { $_ // 'NULL' } @$_) } @$r }
    }
    own_connect() unless alive($own);
    if (!@d) { tap(1, $name); next }
    my $k = known_match("invariant:$id", 'fail', join("\n", @d));
    tap(0, "$name [invariant:$id]", $k ? "known: known.txt:$k->{line} ($k->{item})" : undef,
        @d[0 .. ($#d < 9 ? $#d : 9)], $k ? () : ("(reproduce: $sql)"));
}

# ---------------------------------------------------------------------
# The end
# ---------------------------------------------------------------------

my @stale = grep { !$_->{seen} } @known;
diag("known.txt:$_->{line} did not occur in this run (once its fix has landed, remove it): $_->{what} | $_->{kind}")
    for @stale;
my $elapsed = time - $t_start;
diag(sprintf('%d calls (%d generated: %d by the sweeps, %d at random) of %d functions as %d roles, '
             . 'seed %s, in %.1f s; slowest call %.2f s',
             $calls_run, scalar(@calls), $nsweep, scalar(@calls) - $nsweep,
             scalar(grep { !$_->[3] } @$procs), scalar(@roles), $seed, $elapsed, $max_elapsed));
$own->disconnect if $own;
$fz->disconnect if $fz;
$admin = connect_db('postgres', 60);
if ($ENV{FUZZ_KEEP}) {
    diag("database $dbname kept (FUZZ_KEEP)");
} elsif ($admin) {
    $admin->do("DROP DATABASE IF EXISTS $dbname WITH (FORCE)");
    $admin->do("DROP ROLE $_") for grep { $made_role{$_} } qw(mojob_planner mojob_viewer);
}
print "1..$tap_n\n";
printf "%d passed, %d failed\n", $tap_n - $tap_fail, $tap_fail;
exit($tap_fail ? 1 : 0);
