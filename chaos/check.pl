#!/usr/bin/env perl
# The verdict of one `make chaos` mode: what the load client recorded
# (chaos/load.c -o), what the fault script did (chaos/faults.sh), what
# Redis holds, and what the nginx error logs say.  Core Perl only; Redis is
# read with a few lines of RESP over a socket (chaos/Resp.pm).
#
#   check.pl --mode NAME --records FILE --faults FILE --redis PORT
#            --prefix P --limit SECONDS --load-end MS
#            [--errlog FILE]... [--workers-before "pids" --workers-after "pids"]...
#            [--desk-creds FILE [--desk-prefix P] [--desk-close-after MS
#            [--desk-swept-until MS]]] [--calm]
#
# The v1 location's intakes (Q lines ending in v1) are checked here; with
# --desk-creds, chaos/desk.pl checks the desk's intakes, its calls and the
# invariants of its whole store, and its line joins the verdict.  --calm:
# no fault was made, so there are no recovery windows to measure and any
# 503, 504 or failed connection is a failure.
#
# Prints "chaos[NAME]: PASS|FAIL key=value ...", then the desk's lines,
# details of any failure before them on stderr, and exits 1 on any failed
# check.
use strict;
use warnings;
use Getopt::Long;
use FindBin;
use lib $FindBin::Bin;
use Resp;

my (%o, @errlogs, @before, @after);
GetOptions(\%o, 'mode=s', 'records=s', 'faults=s', 'redis=i', 'prefix=s',
           'limit=f', 'load-end=i', 'errlog=s' => \@errlogs,
           'workers-before=s' => \@before, 'workers-after=s' => \@after,
           'desk-creds=s', 'desk-prefix=s', 'desk-close-after=i',
           'desk-swept-until=i', 'calm')
    or die "check.pl: bad options\n";

my @agents = qw(agent1 agent2 agent3);
my $p = $o{prefix};
my @problems;

sub problem {
    my ($what) = @_;
    push @problems, $what if @problems < 200;
}

# --- what the client saw ----------------------------------------------

my (%req, %acked, %by_ticket, %status, @answers, %first504);
my ($orphan2xx, $idem_dups, $unexpected, $rr_answer_bad, $gave_up) =
    (0, 0, 0, 0, 0);

open my $rf, '<', $o{records} or die "check.pl: $o{records}: $!\n";
while (my $line = <$rf>) {
    chomp $line;
    my @f = split /\t/, $line;
    if ($f[0] eq 'Q') {
        my (undef, $i, $key, $user, $prio, $chan, $issue, $where) = @f;
        next if ($where // 'v1') ne 'v1';   # the desk's: chaos/desk.pl
        $req{$i} = { key => $key, userId => $user, priority => $prio,
                     channel => $chan, issue => $issue };

    } elsif ($f[0] eq 'R') {
        my (undef, $i, $try, $sent, $recv, $st, $tid, $agent, $state, $pid,
            $target, $err) = @f;
        next unless $req{$i};
        $status{$st}++;
        push @answers, [$recv, $st, $pid, $target, $tid];
        $first504{$i} //= $recv if $st == 504;

        if ($st >= 200 && $st < 300) {
            if ($st != 201 || $tid eq '-') {
                $orphan2xx++;
                problem("request $i try $try: $st without a ticket id");
                next;
            }
            if (exists $acked{$i} && $acked{$i}{id} != $tid) {
                $idem_dups++;
                problem("request $i ($req{$i}{key}): ticket $acked{$i}{id}"
                        . " and then ticket $tid for the same key");
            }
            $acked{$i} //= { id => $tid, agent => $agent, state => $state };
            $by_ticket{$tid}{$i} = 1;
            if ($agent ne $agents[($tid - 1) % 3]) {
                $rr_answer_bad++;
                problem("ticket $tid answered with $agent");
            }

        } elsif ($st != 0 && $st != 503 && $st != 504) {
            $unexpected++;
            problem("request $i try $try: unexpected $st ($err)");

        } elsif ($o{calm}) {
            $unexpected++;
            problem("request $i try $try: $st ($err) with no fault");
        }

    } elsif ($f[0] eq 'G') {
        $gave_up++ if $req{ $f[1] };
    }
}
close $rf;

my $doubled = 0;
for my $tid (sort { $a <=> $b } keys %by_ticket) {
    my @reqs = keys %{ $by_ticket{$tid} };
    if (@reqs > 1) {
        $doubled++;
        problem("ticket $tid handed to requests @reqs");
    }
}

# --- what Redis holds ---------------------------------------------------

my $redis = Resp->new($o{redis});

sub redis_many { return $redis->many(@_) }

my ($seq, $rr) = redis_many(['GET', "${p}ticket:seq"], ['GET', "${p}route:rr"]);
$seq //= 0;
$rr //= 0;

my @hashes = redis_many(map { ['HGETALL', "${p}ticket:$_"] } 1 .. $seq);
my %ticket;
for my $id (1 .. $seq) {
    my $h = $hashes[$id - 1];
    $ticket{$id} = { @$h } if @$h;
}
@hashes = ();

my ($gaps, $rr_bad, $dup_tickets, $unknown) = (0, 0, 0, 0);
my %by_issue;
for my $id (1 .. $seq) {
    my $t = $ticket{$id};
    if (!$t) {
        $gaps++;
        problem("ticket:$id is missing (seq is $seq)");
        next;
    }
    if (($t->{agent} // '') ne $agents[($id - 1) % 3]) {
        $rr_bad++;
        problem("ticket:$id went to " . ($t->{agent} // 'nobody'));
    }
    push @{ $by_issue{ ($t->{userId} // '') . "\0" . ($t->{issue} // '') } },
        $id;
}
my %issue_req = map { ($req{$_}{userId} . "\0" . $req{$_}{issue}) => $_ }
                keys %req;
for my $k (keys %by_issue) {
    my @ids = @{ $by_issue{$k} };
    if (@ids > 1) {
        $dup_tickets++;
        my $i = $issue_req{$k};
        problem("request " . ($i // '?') . " stored as tickets @ids");
    }
    $unknown++ unless defined $issue_req{$k};
}

my ($lost, $corrupt) = (0, 0);
for my $i (sort { $a <=> $b } keys %acked) {
    my $a = $acked{$i};
    my $t = $ticket{ $a->{id} };
    if (!$t) {
        $lost++;
        problem("acknowledged ticket $a->{id} (request $i) is not in Redis");
        next;
    }
    my $q = $req{$i};
    if (($t->{userId} // '') ne $q->{userId}
        || ($t->{issue} // '') ne $q->{issue})
    {
        # the id holds another request's ticket: this one is gone
        $lost++;
        problem("acknowledged ticket $a->{id} (request $i) now holds request "
                . ($issue_req{ ($t->{userId} // '') . "\0"
                               . ($t->{issue} // '') } // '?'));
        next;
    }
    for my $f (qw(priority channel)) {
        if (($t->{$f} // '') ne $q->{$f}) {
            $corrupt++;
            problem("ticket $a->{id}: $f is '" . ($t->{$f} // '')
                    . "', request $i sent '$q->{$f}'");
            last;
        }
    }
    if (($t->{agent} // '') ne $a->{agent}
        || ($t->{state} // '') ne $a->{state} || $t->{id} != $a->{id})
    {
        $corrupt++;
        problem("ticket $a->{id}: stored agent/state/id differ from the 201");
    }
}
my $stored_unacked = scalar(grep { defined $issue_req{$_} && !$acked{ $issue_req{$_} } }
                            keys %by_issue);

# the idempotency record of every acknowledged request names its ticket
my @acked_i = sort { $a <=> $b } keys %acked;
my @idem = redis_many(map { ['GET', "${p}idem:$req{$_}{key}"] } @acked_i);
my $idem_bad = 0;
for my $n (0 .. $#acked_i) {
    my $i = $acked_i[$n];
    my ($id) = ($idem[$n] // '') =~ /^(\d+):/;
    if (!defined $id || $id != $acked{$i}{id}) {
        $idem_bad++;
        problem("idem:$req{$i}{key} is '" . ($idem[$n] // '(nil)')
                . "', the 201 said $acked{$i}{id}");
    }
}

# every ticket sits once in its agent's queue, and nowhere else
my $queue_bad = 0;
my %where;
for my $ag (@agents) {
    my ($list) = redis_many(['LRANGE', "${p}queue:$ag", 0, -1]);
    $where{$_}{$ag}++ for @$list;
}
for my $id (1 .. $seq) {
    next unless $ticket{$id};
    my $w = $where{$id} // {};
    my $ag = $agents[($id - 1) % 3];
    if (keys(%$w) != 1 || ($w->{$ag} // 0) != 1) {
        $queue_bad++;
        problem("ticket $id is queued as " . join(',', map { "$_ x$w->{$_}" }
                                                  sort keys %$w));
    }
}
$queue_bad += scalar(grep { !$ticket{$_} } keys %where);

if ($rr != $seq) {
    problem("route:rr is $rr, ticket:seq is $seq");
}

# --- recovery after each fault, per worker -------------------------------

my @faults;
if (!$o{calm} && open my $ff, '<', $o{faults}) {
    while (<$ff>) {
        chomp;
        my (undef, $kind, $t0, $avail, $arg) = split /\t/;
        push @faults, { kind => $kind, t0 => $t0, avail => $avail,
                        arg => $arg };
    }
    close $ff;
}

@answers = sort { $a->[0] <=> $b->[0] } @answers;
my ($recovery_max, @recovery) = (0);
for my $n (0 .. $#faults) {
    my $f = $faults[$n];
    my $wend = $n < $#faults ? $faults[$n + 1]{t0} : $o{'load-end'};
    my (%first_ok, %last_fail, %seen);
    for my $a (@answers) {
        my ($recv, $st, $pid, $target) = @$a;
        next if $recv < $f->{avail};
        last if $recv >= $wend;
        my $who = $pid ne '-' ? "$target/$pid" : "$target/?";
        next if $st == 0;       # a socket error names no worker
        $seen{$who} = 1;
        if ($st == 201) {
            $first_ok{$who} //= $recv;
        } elsif ($st == 503 || $st == 504) {
            $last_fail{$who} = $recv;
        }
    }
    my $worst = 0;
    for my $who (sort keys %seen) {
        my $done = $first_ok{$who};
        my $r;
        # recovered: the first 201, and no 503/504 after it
        if (!defined $done) {
            $r = 1e9;
            problem("fault $n ($f->{kind}): worker $who answered no 201 in"
                    . " the " . (($wend - $f->{avail}) / 1000) . " s after");
        } else {
            my $last = $last_fail{$who} // 0;
            $r = (($last > $done ? $last : $done) - $f->{avail}) / 1000;
        }
        $worst = $r if $r > $worst;
    }
    push @recovery, sprintf('%s:%.2f', lc $f->{kind}, $worst);
    $recovery_max = $worst if $worst > $recovery_max;
    if ($worst > $o{limit}) {
        problem(sprintf("fault %d (%s): recovery %.2f s > %g s", $n,
                        $f->{kind}, $worst, $o{limit}));
    }
}

# a request cut off by a 504 and then answered with a ticket older than
# the newest one acknowledged before that 504 was stored before the cut:
# its retry was replayed through its Idempotency-Key (a lower bound)
my $replayed = 0;
{
    my @cut = sort { $first504{$a} <=> $first504{$b} }
              grep { $acked{$_} } keys %first504;
    my ($k, $max) = (0, 0);
    for my $a (@answers) {
        while ($k < @cut && $first504{ $cut[$k] } <= $a->[0]) {
            $replayed++ if $acked{ $cut[$k] }{id} <= $max;
            $k++;
        }
        $max = $a->[4] if $a->[1] == 201 && $a->[4] > $max;
    }
}

# --- crashes --------------------------------------------------------------

my ($crashes, $alerts) = (0, 0);
for my $log (@errlogs) {
    open my $lf, '<', $log or next;
    while (<$lf>) {
        if (/exited on signal|exited with fatal code|exited with code [1-9]/) {
            $crashes++;
            problem("$log: $_");
        } elsif (/\[(alert|crit|emerg)\]/) {
            $alerts++;
            problem("$log: $_");
        }
    }
    close $lf;
}
for my $n (0 .. $#before) {
    if (($before[$n] // '') ne ($after[$n] // '')) {
        $crashes++;
        problem("worker PIDs changed: [$before[$n]] -> [" . ($after[$n] // '')
                . "]");
    }
}

# --- the desk ------------------------------------------------------------------

my ($desk_fail, @desk_lines) = (0);
if ($o{'desk-creds'}) {
    my @cmd = ($^X, "$FindBin::Bin/desk.pl", '--redis', $o{redis},
               '--prefix', $o{'desk-prefix'} // 'desk:',
               '--records', $o{records}, '--creds', $o{'desk-creds'},
               '--mode', $o{mode}, $o{calm} ? () : '--faults',
               defined $o{'desk-close-after'}
                   ? ('--close-after', $o{'desk-close-after'}) : (),
               defined $o{'desk-swept-until'}
                   ? ('--swept-until', $o{'desk-swept-until'}) : ());
    open my $dp, '-|', @cmd or die "check.pl: cannot run desk.pl: $!\n";
    @desk_lines = <$dp>;
    close $dp;
    $desk_fail = $? != 0;
    problem("desk.pl exited with " . ($? >> 8)) if $desk_fail && !@desk_lines;
}

# --- verdict ----------------------------------------------------------------

my $fail = $lost || $doubled || $orphan2xx || $idem_dups || $dup_tickets
           || $corrupt || $gaps || $rr_bad || $rr_answer_bad || $queue_bad
           || $idem_bad || $unexpected || $crashes || $alerts || $rr != $seq
           || $recovery_max > $o{limit} || !%acked
           || (!$o{calm} && !@faults) || $desk_fail;

print STDERR "  $_\n" for @problems;
printf "chaos[%s]: %s acked=%d lost=%d doubled=%d orphan2xx=%d idem_dups=%d"
     . " dup_tickets=%d corrupt=%d gaps=%d rr_bad=%d queue_bad=%d"
     . " idem_bad=%d unexpected=%d crashes=%d alerts=%d stored=%d"
     . " stored_unacked=%d unknown=%d gave_up=%d s503=%d s504=%d"
     . " sock_err=%d replayed=%d faults=%d recovery_max=%.2fs (limit %gs)"
     . " [%s]\n",
    $o{mode}, $fail ? 'FAIL' : 'PASS', scalar(keys %acked), $lost, $doubled,
    $orphan2xx, $idem_dups, $dup_tickets, $corrupt, $gaps,
    $rr_bad + $rr_answer_bad, $queue_bad, $idem_bad, $unexpected, $crashes,
    $alerts, $seq, $stored_unacked, $unknown, $gave_up, $status{503} // 0,
    $status{504} // 0, $status{0} // 0, $replayed, scalar(@faults),
    $recovery_max,
    $o{limit}, join(' ', @recovery);
print @desk_lines;

exit($fail ? 1 : 0);
