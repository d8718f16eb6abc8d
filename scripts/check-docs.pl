#!/usr/bin/env perl
# make check-docs: the project cites only documents it holds, and
# docs/design.md says what the code does.  Fails, listing what is wrong, when
#
#   * a file of the tree cites a document outside it: a path into a
#     directory next to the checkout, an absolute path under the machine's
#     work directory, or the name of a design or style file that is not in
#     the tree (the patterns are in @outside below);
#   * a citation "docs/design.md section N" (or "sections N and M",
#     "sections N-M", across comment lines too) names an N that is not a
#     heading "## N. ..." of docs/design.md, or those headings are not
#     numbered 1, 2, 3, ... in order;
#   * the table of edges in docs/design.md section 1 differs, row for row,
#     from the C table of edges in src/ (what mojob.state_transitions prints);
#   * a SQLSTATE that src/ or the install script raises is missing from the
#     table of docs/design.md section 6, or an MJxxx code of the table is not
#     one that src/ defines.
#
# The files read are those git would commit (tracked, and untracked but not
# ignored), or, outside a git checkout, every file under the top directory
# but .git and the output of builds and test runs.  Binary files are skipped.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Find;
use Cwd qw(abs_path);

my $top = abs_path(dirname(abs_path($0)) . '/..');
chdir $top or die "cannot enter $top: $!\n";

my @problems;
sub problem { push @problems, join('', @_) }

# ---------------------------------------------------------------------------
# The files of the tree
# ---------------------------------------------------------------------------
my @files;
if (-e "$top/.git" && system('git rev-parse --is-inside-work-tree >/dev/null 2>&1') == 0) {
    local $/ = "\0";
    open(my $ls, '-|', 'git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard')
        or die "git ls-files: $!\n";
    while (my $f = <$ls>) {
        chomp $f;
        push @files, $f if -f $f;
    }
    close $ls or die "git ls-files failed\n";
} else {
    find({ no_chdir => 1, wanted => sub {
        # .git, and what a build or a test run leaves (as .gitignore says)
        if (-d $_ && m{^\./(?:\.git|output_iso|tmp_check|results|log|bench/out)$}) {
            $File::Find::prune = 1;
            return;
        }
        push @files, substr($_, 2) if -f $_;
    } }, '.');
}
@files = sort @files;
die "no files found under $top\n" unless @files;

sub slurp {
    my ($f) = @_;
    open(my $fh, '<', $f) or die "cannot read $f: $!\n";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

my %text;
for my $f (@files) {
    next if -B $f;              # binary (pictures, objects)
    $text{$f} = slurp($f);
}

# ---------------------------------------------------------------------------
# 1. No document outside the tree.  Each pattern is written so that this
#    file does not match it.
# ---------------------------------------------------------------------------
my @outside = (
    [qr{[.][.]/shared},   'a path into a directory outside the checkout'],
    [qr{/wor[k]/},        'an absolute path of the machine'],
    [qr{DESIG[N][.]md},   'a design document outside the tree (cite docs/design.md)'],
    [qr{STYL[E][.]md},    'a style guide outside the tree'],
    [qr{DOMAI[N][.]md},   'a document outside the tree'],
);
for my $f (sort keys %text) {
    my $n = 0;
    for my $line (split /\n/, $text{$f}, -1) {
        $n++;
        for my $o (@outside) {
            problem("$f:$n: $o->[1]: $line") if $line =~ $o->[0];
        }
    }
}

# ---------------------------------------------------------------------------
# 2. Citations of docs/design.md name sections it has.
# ---------------------------------------------------------------------------
my $design_file = 'docs/design.md';
my $design = $text{$design_file};
die "$design_file is missing\n" unless defined $design;

my (@headings, %heading);
while ($design =~ /^## (\d+)\. \S/mg) {
    push @headings, $1;
    $heading{$1} = 1;
}
for my $i (0 .. $#headings) {
    if ($headings[$i] != $i + 1) {
        problem("$design_file: section headings must be numbered 1, 2, 3, ... in order; found ",
                join(', ', @headings));
        last;
    }
}
problem("$design_file: no section headings (\"## 1. ...\")") unless @headings;

# A line break inside a citation may carry a comment leader.
my $sep = qr{(?:[ \t]|\n[ \t]*(?:--|\#|\*|//)?[ \t]*)+};
my $num = qr{\d+(?:[ \t]*[-\x{2013}][ \t]*\d+)?};
my $list = qr{$num(?:(?:$sep|,)*(?:and|or|to)?(?:$sep|,)*$num)*};
my $citations = 0;
for my $f (sort keys %text) {
    my $t = $text{$f};
    while ($t =~ /docs\/design\.md\)?,?$sep(sections?)$sep($list)/g) {
        my ($word, $nums, $at) = ($1, $2, $-[0]);
        my $line = 1 + (substr($t, 0, $at) =~ tr/\n//);
        my @n;
        while ($nums =~ /(\d+)(?:[ \t]*[-\x{2013}][ \t]*(\d+))?/g) {
            push @n, defined $2 ? ($1 .. $2) : ($1);
        }
        $citations++;
        for my $s (@n) {
            problem("$f:$line: cites $design_file section $s, which has no heading \"## $s. ...\"")
                unless $heading{$s};
        }
    }
}

# The sections of docs/design.md, by number.
my %section;
{
    my @parts = split /^(?=## \d+\. )/m, $design;
    for my $p (@parts) {
        $section{$1} = $p if $p =~ /^## (\d+)\. /;
    }
}

# ---------------------------------------------------------------------------
# 3. The edges of section 1 are the C table's.
# ---------------------------------------------------------------------------
my @c_edges;
for my $f (grep { m{^src/.*\.c$} } sort keys %text) {
    my $t = $text{$f};
    while ($t =~ /\{\s*[A-Z]+_([A-Z]+)\s*,\s*[A-Z]+_([A-Z]+)\s*,\s*[A-Z_]*CAUSE_([A-Z]+)\s*,\s*"\w+"\s*,\s*"([^"]+)"\s*\}/g) {
        push @c_edges, lc($1) . ' ' . lc($2) . ' ' . lc($3) . ' ' . $4;
    }
}
my @doc_edges;
if (defined $section{1}) {
    while ($section{1} =~ /^\|\s*(\w+)\s*\|\s*(\w+)\s*\|\s*(user|time)\s*\|\s*`([^`]+)`\s*\|\s*$/mg) {
        push @doc_edges, "$1 $2 $3 $4";
    }
} else {
    problem("$design_file: no section 1");
}
if (!@c_edges) {
    problem("src/: no table of edges ({MJ_FROM, MJ_TO, MJ_CAUSE_..., \"action\", \"function\"}) found");
} elsif (join("\n", @c_edges) ne join("\n", @doc_edges)) {
    problem("$design_file section 1: the table of edges differs from the C table in src/\n",
            "  C table:\n", map({ "    $_\n" } @c_edges),
            "  $design_file:\n", map({ "    $_\n" } @doc_edges));
}

# ---------------------------------------------------------------------------
# 4. Every SQLSTATE raised is in the table of section 6.
# ---------------------------------------------------------------------------
my %errcode;                    # ERRCODE_NAME -> SQLSTATE
sub read_defines {
    my ($t) = @_;
    while ($t =~ /^#define\s+(ERRCODE_\w+)\s+MAKE_SQLSTATE\(\s*'(.)'\s*,\s*'(.)'\s*,\s*'(.)'\s*,\s*'(.)'\s*,\s*'(.)'\s*\)/mg) {
        $errcode{$1} = "$2$3$4$5$6";
    }
}
my $pg_config = $ENV{PG_CONFIG} || 'pg_config';
chomp(my $incdir = `$pg_config --includedir-server 2>/dev/null` // '');
my $errcodes_h = "$incdir/utils/errcodes.h";
if ($incdir eq '' || !-r $errcodes_h) {
    problem("cannot read PostgreSQL's utils/errcodes.h (pg_config --includedir-server: '$incdir')");
} else {
    read_defines(slurp($errcodes_h));
}
my %mj_defined;
for my $f (grep { m{^src/.*\.h$} } sort keys %text) {
    my %before = %errcode;
    read_defines($text{$f});
    $mj_defined{$errcode{$_}} = 1 for grep { !exists $before{$_} } keys %errcode;
}

my %raised;                     # SQLSTATE -> first place raised
for my $f (grep { m{^src/.*\.c$} } sort keys %text) {
    my $t = $text{$f};
    while ($t =~ /errcode\(\s*(ERRCODE_\w+)\s*\)/g) {
        my ($name, $at) = ($1, $-[0]);
        my $line = 1 + (substr($t, 0, $at) =~ tr/\n//);
        my $code = $errcode{$name};
        if (!defined $code) {
            problem("$f:$line: $name is not a SQLSTATE known to errcodes.h or src/*.h");
            next;
        }
        $raised{$code} //= "$f:$line";
    }
    if ($t =~ /\belog\(\s*ERROR\b/) {
        $raised{XX000} //= "$f (elog)";
    }
}
for my $f (grep { m{^sql/mojob--.*\.sql$} && !m{^sql/mojob--1\.0\.sql$} } sort keys %text) {
    my $t = $text{$f};
    while ($t =~ /ERRCODE\s*=\s*'([^']+)'/gi) {
        my ($c, $at) = ($1, $-[0]);
        my $line = 1 + (substr($t, 0, $at) =~ tr/\n//);
        my $code = $c =~ /^[0-9A-Z]{5}$/ ? $c : $errcode{'ERRCODE_' . uc $c};
        if (!defined $code) {
            problem("$f:$line: '$c' is not a SQLSTATE or condition name known to errcodes.h");
            next;
        }
        $raised{$code} //= "$f:$line";
    }
}

my %documented;
if (defined $section{6}) {
    while ($section{6} =~ /^\|([^|\n]*)\|/mg) {
        my $first = $1;
        $documented{$1} = 1 while $first =~ /`([0-9A-Z]{5})`/g;
    }
} else {
    problem("$design_file: no section 6");
}
for my $code (sort keys %raised) {
    problem("$raised{$code}: raises SQLSTATE $code, which the table of $design_file section 6 does not list")
        unless $documented{$code};
}
for my $code (sort grep { /^MJ/ } keys %documented) {
    problem("$design_file section 6 lists $code, which src/*.h does not define")
        unless $mj_defined{$code};
}
for my $code (sort keys %mj_defined) {
    problem("src/*.h defines SQLSTATE $code, which the table of $design_file section 6 does not list")
        unless $documented{$code};
}

# ---------------------------------------------------------------------------
if (@problems) {
    print STDERR "check-docs: $_\n" for @problems;
    printf STDERR "check-docs: %d problem(s)\n", scalar @problems;
    exit 1;
}
printf "check-docs: %d files, no document outside the tree; %d citations of %s, sections 1-%d; "
     . "%d edges as in src/; %d SQLSTATEs raised, all in section 6\n",
     scalar(keys %text), $citations, $design_file, scalar(@headings), scalar(@c_edges),
     scalar(keys %raised);
exit 0;
