#!/usr/bin/env perl
# The desk's verdict after a `make chaos` mode: what the load client's desk
# connections recorded (chaos/load.c -l: Q/R lines of the desk's intakes,
# L lines of its calls) and the invariants of the whole store, read with
# SCAN.  chaos/check.pl runs it; it also runs by hand on any desk's Redis.
#
#   desk.pl --redis PORT [--prefix desk:] [--records FILE] [--creds FILE]
#           [--mode NAME] [--faults] [--close-after MS [--swept-until MS]]
#           [--metrics]
#
# --faults: Redis was killed or paused meanwhile, so a call may have no
# answer (0) or a 503/504; without it, any such answer is a failure.
# --close-after: the desk's cs_close_after; then nothing may wait in
# closing longer than that plus 5 s (the sweep stopped, or lost tickets),
# counted to --swept-until (ms: when nginx, and so its sweep, was
# stopped; chaos/run.sh keeps it in build/chaos/<mode>/swept-until), or to
# now (a desk whose nginx still runs).
# --metrics: the figures (<prefix>metrics) must count the tickets there
# are (a store the scripts alone made; see DeskCheck.pm).
#
# The invariants of the whole store (DESIGN §Ticket states, §Routing) are
# chaos/DeskCheck.pm's, each violation reported with its ticket id or
# agent; with the records, an agent's load may reach the highest capacity
# it was given where capacity may have been lowered meanwhile (two calls
# that may have been applied in either order, one lower).
#
# From the records: every acknowledged intake is stored with its fields
# (lost), no key gave two tickets and no ticket answered two keys
# (doubled), every acknowledged message is in its ticket exactly once and
# no message is there twice, and every call answered as its endpoint may
# (e.g. an agent's reply: 201, 403 when the ticket is no longer its own,
# 409 ticket_closed).
#
# Prints "desk[NAME]: PASS|FAIL key=value ..." and an outcomes line (calls
# by endpoint and status) on stdout, each problem on stderr; exits 1 on
# any failure.
use strict;
use warnings;
use Getopt::Long;
use FindBin;
use lib $FindBin::Bin;
use DeskCheck;
use Resp;

my %o = (prefix => 'desk:', mode => 'desk');
GetOptions(\%o, 'redis=i', 'prefix=s', 'records=s', 'creds=s', 'mode=s',
           'faults', 'close-after=i', 'swept-until=i', 'metrics')
    or die "desk.pl: bad options\n";
defined $o{redis} or die "desk.pl: --redis PORT is required\n";

my $p = $o{prefix};
my $desk = DeskCheck->new(prefix => $p);
my $kinds = $desk->{kinds};

# one violation: counted by kind, shown (the first 200)
sub bad { $desk->bad(@_) }

# --- what the client saw --------------------------------------------------

my (%req, %acked, %by_ticket, %outcome, %msg_sent, %msg_acked, @caps);
my ($ops, $unexpected, $no_answer) = (0, 0, 0);
my %initial_cap;

# what each call may answer besides a failed connection or Redis (0, 503,
# 504, under faults): status => the error codes allowed ('' none)
my %may = (
    queue    => { 200 => '' },
    reply    => { 201 => '', 403 => 'forbidden', 409 => 'ticket_closed' },
    pending  => { 200 => '', 403 => 'forbidden',
                  409 => 'invalid_transition' },
    solved   => { 200 => '', 403 => 'forbidden',
                  409 => 'invalid_transition' },
    close    => { 200 => '', 409 => 'invalid_transition' },
    customer => { 201 => '', 409 => 'ticket_closed' },
    assign   => { 200 => '', 403 => 'forbidden',
                  409 => 'invalid_transition|agent_at_capacity' },
    unassign => { 200 => '', 403 => 'forbidden',
                  409 => 'invalid_transition' },
    presence => { 200 => '' },
    capacity => { 200 => '' },
);

if ($o{creds}) {
    open my $cf, '<', $o{creds} or die "desk.pl: $o{creds}: $!\n";
    while (<$cf>) {
        $initial_cap{$1} = $2 if /^agent (\S+) \S+ (\d+)/;
    }
    close $cf;
}

if ($o{records}) {
    open my $rf, '<', $o{records} or die "desk.pl: $o{records}: $!\n";
    while (my $line = <$rf>) {
        chomp $line;
        my @f = split /\t/, $line;
        if ($f[0] eq 'Q') {
            next unless ($f[7] // '') eq 'desk';
            $req{ $f[1] } = { key => $f[2], userId => $f[3],
                              issue => $f[6] };

        } elsif ($f[0] eq 'R') {
            my (undef, $i, $try, undef, undef, $st, $tid) = @f;
            next unless $req{$i};
            if ($st == 201) {
                if (exists $acked{$i} && $acked{$i} != $tid) {
                    bad(doubled => "request $i ($req{$i}{key}): ticket"
                                   . " $acked{$i} and then ticket $tid");
                }
                $acked{$i} //= $tid;
                $by_ticket{$tid}{$i} = 1;
            } elsif ($st != 0 && $st != 503 && $st != 504) {
                $unexpected++;
                bad(unexpected => "intake $i try $try: $st ($f[11])");
            } elsif (!$o{faults}) {
                $unexpected++;
                bad(unexpected => "intake $i try $try: $st ($f[11])"
                                  . " with no fault");
            }

        } elsif ($f[0] eq 'L') {
            my (undef, $i, $op, $tid, $actor, $arg, $sent, $recv, $st,
                $code, $state, $agent, $pid, $target, $next) = @f;
            $ops++;
            $outcome{$op}{$st}++;
            my $allowed = $may{$op} && $may{$op}{$st};
            if ($st == 0 || $st == 503 || $st == 504) {
                $no_answer++;
                if (!$o{faults}) {
                    $unexpected++;
                    bad(unexpected => "$op $i on ticket $tid by $actor:"
                                      . " $st ($code) with no fault");
                }
            } elsif (!defined $allowed
                     || ($allowed ne '' && $code !~ /^(?:$allowed)$/))
            {
                $unexpected++;
                bad(unexpected => "$op $i on ticket $tid by $actor: $st"
                                  . " $code");
            }
            if ($op eq 'reply' || $op eq 'customer') {
                $msg_sent{$tid}{$arg} = $i;
                $msg_acked{$tid}{$arg} = $i if $st == 201;
            } elsif ($op eq 'capacity') {
                my ($ag, $cap) = split /=/, $arg;
                push @caps, { i => $i, agent => $ag, cap => $cap,
                              st => $st, next => $next };
            }
        }
    }
    close $rf;
}

for my $tid (sort { $a <=> $b } keys %by_ticket) {
    my @reqs = sort { $a <=> $b } keys %{ $by_ticket{$tid} };
    bad(doubled => "ticket $tid handed to requests @reqs") if @reqs > 1;
}

# the agents: load, and capacity as a hard limit for routing
my %max_cap = %initial_cap;
my %lowered;
{
    my %by_agent;
    push @{ $by_agent{ $_->{agent} } }, $_ for @caps;
    for my $ag (keys %by_agent) {
        # calls that may have been applied: answered 200, or not at all
        my @c = grep { $_->{st} == 200 || $_->{st} == 0 || $_->{st} >= 500 }
                @{ $by_agent{$ag} };
        for my $x (@c) {
            $max_cap{$ag} = $x->{cap}
                if !defined $max_cap{$ag} || $x->{cap} > $max_cap{$ag};
            # lower than the first capacity, which was surely before it
            $lowered{$ag} = 1
                if defined $initial_cap{$ag} && $x->{cap} < $initial_cap{$ag};
            for my $y (@c) {
                # y lower than x, and not surely applied before x was sent
                next unless $y->{cap} < $x->{cap};
                my $before = $y->{st} == 200 && $y->{next} <= $x->{i};
                $lowered{$ag} = 1 unless $before;
            }
        }
    }
}

# --- the store ---------------------------------------------------------------

my $r = Resp->new($o{redis});
my %bound = map { $_ => $max_cap{$_} } grep { defined $max_cap{$_} }
            keys %lowered;
$desk->read($r)->check(bound => \%bound,
                       bound_is => 'the highest it was given',
                       close_after => $o{'close-after'},
                       swept_until => $o{'swept-until'},
                       metrics => $o{metrics});

# messages: what the records say was sent and acknowledged
my ($msg_lost, $msg_doubled, $msgs_acked) = (0, 0, 0);
for my $id (@{ $desk->{ids} }) {
    my $body = $desk->{bodies}{$id} // {};
    for my $b (keys %{ $msg_sent{$id} // {} }) {
        if (($body->{$b} // 0) > 1) {
            $msg_doubled++;
            bad(message => "ticket $id: '$b' is there $body->{$b} times");
        }
    }
    for my $b (keys %{ $msg_acked{$id} // {} }) {
        $msgs_acked++;
        if (!$body->{$b}) {
            $msg_lost++;
            bad(message => "ticket $id: acknowledged message '$b'"
                           . " (call $msg_acked{$id}{$b}) is missing");
        }
    }
}

# acknowledged intakes are stored, as sent
my $lost = 0;
for my $i (sort { $a <=> $b } keys %acked) {
    my ($tid, $q) = ($acked{$i}, $req{$i});
    my $t = $desk->{ticket}{$tid};
    if (!$t || ($t->{userId} // '') ne $q->{userId}
        || ($t->{issue} // '') ne $q->{issue})
    {
        $lost++;
        bad(lost => "acknowledged ticket $tid (request $i) is "
                    . ($t ? 'another request' : 'not in Redis'));
    }
}

# --- verdict -----------------------------------------------------------------

my $violations = 0;
$violations += $kinds->{$_}
    for grep { !/^(lost|doubled|unexpected)$/ } keys %$kinds;
my $fail = %$kinds || ($o{records} && (!%acked || !$ops));

print STDERR "  $_\n" for @{ $desk->{problems} };
printf "desk[%s]: %s tickets=%d acked=%d lost=%d doubled=%d ops=%d"
     . " no_answer=%d unexpected=%d messages=%d msgs_acked=%d msg_lost=%d"
     . " msg_doubled=%d violations=%d%s states=%s agents=%s other_keys=%d\n",
    $o{mode}, $fail ? 'FAIL' : 'PASS', scalar(@{ $desk->{ids} }),
    scalar(keys %acked), $lost, $kinds->{doubled} // 0, $ops, $no_answer,
    $unexpected, $desk->{msgs}, $msgs_acked, $msg_lost, $msg_doubled,
    $violations,
    join('', map { " $_=$kinds->{$_}" }
             grep { !/^(lost|doubled|unexpected|message)$/ }
             sort keys %$kinds),
    join(',', map { "$_:" . ($desk->{count}{$_} // 0) } @DeskCheck::STATES),
    join(',', @{ $desk->{agent_view} }), $desk->{other};
printf "desk[%s] calls: %s\n", $o{mode},
    join('; ', map {
        my $op = $_;
        "$op " . join(' ', map { "$_=$outcome{$op}{$_}" }
                           sort { $a <=> $b } keys %{ $outcome{$op} })
    } sort keys %outcome);

exit($fail ? 1 : 0);
