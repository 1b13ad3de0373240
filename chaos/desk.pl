#!/usr/bin/env perl
# The desk's verdict after a `make chaos` mode: what the load client's desk
# connections recorded (chaos/load.c -l: Q/R lines of the desk's intakes,
# L lines of its calls) and the invariants of the whole store, read with
# SCAN.  chaos/check.pl runs it; it also runs by hand on any desk's Redis.
#
#   desk.pl --redis PORT [--prefix desk:] [--records FILE] [--creds FILE]
#           [--mode NAME] [--faults] [--close-after MS [--swept-until MS]]
#
# --faults: Redis was killed or paused meanwhile, so a call may have no
# answer (0) or a 503/504; without it, any such answer is a failure.
# --close-after: the desk's cs_close_after; then nothing may wait in
# closing longer than that plus 5 s (the sweep stopped, or lost tickets),
# counted to --swept-until (ms: when nginx, and so its sweep, was
# stopped; chaos/run.sh keeps it in build/chaos/<mode>/swept-until), or to
# now (a desk whose nginx still runs).
#
# Invariants (DESIGN §Ticket states, §Routing), each violation reported
# with its ticket id or agent:
#   - every key of the desk has its type; every ticket hash is
#     <prefix>ticket:<id> with id = its `id` field, and a known state;
#   - a ticket is in exactly one <prefix>state:<state> index, the one of its
#     state, scored by its id; no index holds a missing ticket;
#   - no ticket id is in two queues (nor twice in one); a ticket is in
#     the backlog (<prefix>backlog; before it, the list queue:unassigned)
#     iff it is queued (and then has no agent), scored by its priority's
#     rank and its id's last digits, in queue:<agent> iff it is assigned
#     or pending and that is its agent, a registry agent; no queue holds a
#     missing ticket or names no agent;
#   - an agent's load is the number of its assigned tickets, and at most
#     its capacity; where capacity may have been lowered meanwhile (two
#     calls that may have been applied in either order, one lower),
#     at most the highest capacity it was given (routing never assigns at
#     or over capacity, and lowering takes no ticket away);
#   - <prefix>closing holds exactly the solved and auto_resolved tickets,
#     each scored by its solvedAt, none (with --close-after) overdue for
#     the sweep by more than 5 s; a closed ticket has closedAt;
#   - firstResponseAt is the time of the first public agent message, and
#     is set when there is one; no messages list outlives its ticket;
#   - a ticket is once in the history of the user its userKey names, and
#     in no other;
#   - an auto_resolved ticket has a rule and its answer, no agent, no first
#     response, and solvedAt = createdAt; a rule's `answered` is the number
#     of tickets it answered, its `reopened` at most that and at least
#     those of them routed since;
#   - ticket:seq is at least the highest id.
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
use JSON::PP;
use FindBin;
use lib $FindBin::Bin;
use Resp;

my %o = (prefix => 'desk:', mode => 'desk');
GetOptions(\%o, 'redis=i', 'prefix=s', 'records=s', 'creds=s', 'mode=s',
           'faults', 'close-after=i', 'swept-until=i')
    or die "desk.pl: bad options\n";
defined $o{redis} or die "desk.pl: --redis PORT is required\n";

my $p = $o{prefix};
my (@problems, %kinds);

# one violation: counted by kind, shown (the first 200)
sub bad {
    my ($kind, $what) = @_;
    $kinds{$kind}++;
    push @problems, "$kind: $what" if @problems < 200;
}

my @STATES = qw(queued assigned pending solved closed auto_resolved);
my %STATE = map { $_ => 1 } @STATES;

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

# --- the store ---------------------------------------------------------------

my $r = Resp->new($o{redis});
my @keys = $r->keys_like("$p*");
my @types = $r->many(map { ['TYPE', $_] } @keys);
my (%type, @ticket_ids, @queues, @indexes, @msg_lists, @histories, @rules);
my %want = (events => 'stream', agents => 'set', closing => 'zset',
            backlog => 'zset', 'ticket:seq' => 'string',
            'lock:sweep' => 'string');
my $other = 0;
for my $n (0 .. $#keys) {
    my ($k, $t) = ($keys[$n], $types[$n]);
    my $rest = substr($k, length $p);
    my $w;
    if ($rest =~ /^ticket:(\d+)$/) {
        $w = 'hash';
        push @ticket_ids, $1 if $t eq 'hash';
    } elsif ($rest =~ /^ticket:(\d+):messages$/) {
        $w = 'list';
        push @msg_lists, $1 if $t eq 'list';
    } elsif ($rest =~ /^queue:(.+)$/) {
        $w = 'list';
        push @queues, $1 if $t eq 'list';
    } elsif ($rest =~ /^state:(.+)$/) {
        $w = 'zset';
        push @indexes, $1 if $t eq 'zset';
        bad(index => "$k: no such state") unless $STATE{$1};
    } elsif ($rest =~ /^agent:/) {
        $w = 'hash';
    } elsif ($rest =~ /^user:([^:]+):tickets$/) {
        $w = 'list';
        push @histories, $1 if $t eq 'list';
    } elsif ($rest =~ /^user:[^:]+$/) {
        $w = 'hash';        # the user's record (its event id)
    } elsif ($rest =~ /^rule:(.+)$/) {
        $w = 'hash';
        push @rules, $1 if $t eq 'hash';
    } elsif ($rest =~ /^route:/) {
        $w = $rest eq 'route:rr' ? 'string' : 'hash';
    } elsif ($rest =~ /^idem:/) {
        $w = 'string';
    } elsif ($want{$rest}) {
        $w = $want{$rest};
    } else {
        $other++;
        next;
    }
    bad(type => "$k is a $t, not a $w") if $t ne $w;
}
@ticket_ids = sort { $a <=> $b } @ticket_ids;

my %ticket;
{
    my @h = $r->many(map { ['HGETALL', "${p}ticket:$_"] } @ticket_ids);
    for my $n (0 .. $#ticket_ids) {
        $ticket{ $ticket_ids[$n] } = { @{ $h[$n] } };
    }
}

my %count;
for my $id (@ticket_ids) {
    my $t = $ticket{$id};
    my $s = $t->{state} // '(none)';
    $count{$s}++;
    bad(ticket => "ticket $id: its id field is " . ($t->{id} // '(none)'))
        if ($t->{id} // '') ne $id;
    bad(ticket => "ticket $id: state '$s'") unless $STATE{$s};
}

# the state indexes
my %indexed;
for my $s (@indexes) {
    my $z = $r->call('ZRANGE', "${p}state:$s", 0, -1, 'WITHSCORES');
    for (my $n = 0; $n < @$z; $n += 2) {
        my ($id, $score) = @$z[$n, $n + 1];
        push @{ $indexed{$id} }, $s;
        bad(index => "ticket $id in state:$s scored $score")
            if $score != $id;
        bad(index => "state:$s holds $id, which is no ticket")
            unless $ticket{$id};
    }
}
for my $id (@ticket_ids) {
    my $s = $ticket{$id}{state} // '(none)';
    my @in = @{ $indexed{$id} // [] };
    if (@in != 1 || $in[0] ne $s) {
        bad(index => "ticket $id ($s) is in the index of "
                     . (@in ? join(', ', sort @in) : 'no state'));
    }
}

# the queues: the backlog (a sorted set; before it, the list
# queue:unassigned) and the agents' lists
my %agents = map { $_ => 1 } @{ $r->call('SMEMBERS', "${p}agents") };
my $has_backlog = grep { $_ eq "${p}backlog" } @keys;
my $legacy = !$has_backlog && grep { $_ eq 'unassigned' } @queues;
my $backlog = $legacy ? 'queue:unassigned' : 'backlog';
my %RANK = (urgent => 0, high => 1, normal => 2, low => 3);
my %queued_in;
for my $q (sort @queues) {
    my $list = $r->call('LRANGE', "${p}queue:$q", 0, -1);
    bad(queue => "queue:$q belongs to no agent")
        unless $agents{$q} || ($legacy && $q eq 'unassigned');
    for my $id (@$list) {
        $queued_in{$id}{"queue:$q"}++;
        bad(queue => "queue:$q holds $id, which is no ticket")
            unless $ticket{$id};
    }
}
if ($has_backlog) {
    # the score: priority rank x 10^15 + the time it entered (ms) x 100 +
    # the id's last two digits
    my $z = $r->call('ZRANGE', "${p}backlog", 0, -1, 'WITHSCORES');
    for (my $n = 0; $n < @$z; $n += 2) {
        my ($id, $score) = @$z[$n, $n + 1];
        $queued_in{$id}{backlog}++;
        my $t = $ticket{$id};
        if (!$t) {
            bad(queue => "backlog holds $id, which is no ticket");
            next;
        }
        my $rank = $RANK{ $t->{priority} // '' } // -1;
        bad(queue => "ticket $id ($t->{priority}) waits in the backlog"
                     . " scored $score")
            if int($score / 1e15) != $rank || $score % 100 != $id % 100;
    }
}
my %assigned_to;
for my $id (@ticket_ids) {
    my $t = $ticket{$id};
    my $s = $t->{state} // '';
    my $in = $queued_in{$id} // {};
    my $where = join(', ', map { "$_ x$in->{$_}" } sort keys %$in)
                || 'no queue';
    my $want;
    if ($s eq 'queued') {
        $want = $backlog;
        bad(queue => "ticket $id is queued with agent $t->{agent}")
            if defined $t->{agent};
    } elsif ($s eq 'assigned' || $s eq 'pending') {
        if (!defined $t->{agent}) {
            bad(queue => "ticket $id is $s with no agent");
        } elsif (!$agents{ $t->{agent} }) {
            bad(queue => "ticket $id is $s to $t->{agent}, no agent of the"
                         . " registry");
        }
        $want = 'queue:' . ($t->{agent} // '(none)');
        $assigned_to{ $t->{agent} // '(none)' }++ if $s eq 'assigned';
    }
    if (defined $want) {
        if (keys(%$in) != 1 || ($in->{$want} // 0) != 1) {
            bad(queue => "ticket $id ($s"
                         . (defined $t->{agent} ? ", $t->{agent}" : '')
                         . ") is in $where, not once in $want");
        }
    } elsif (%$in) {
        bad(queue => "ticket $id ($s) is in $where");
    }
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
my @agent_view;
for my $ag (sort keys %agents) {
    my $a = { @{ $r->call('HGETALL', "${p}agent:$ag") } };
    if (!%$a) {
        bad(agent => "agent $ag is in agents but has no hash");
        next;
    }
    my $load = $a->{load} // 0;
    my $cap = $a->{capacity} // 0;
    my $n = $assigned_to{$ag} // 0;
    bad(load => "agent $ag: load $load, but $n assigned tickets")
        if $load != $n;
    my $bound = $lowered{$ag} ? ($max_cap{$ag} // $cap) : $cap;
    bad(capacity => "agent $ag: load $load over capacity $cap"
                    . ($lowered{$ag} ? " (and over $bound, the highest it"
                                       . " was given)" : ''))
        if $load > $bound;
    push @agent_view, "$ag:$load/$cap" . ($lowered{$ag} ? "<=$bound" : '');
}
for my $ag (sort keys %assigned_to) {
    bad(load => "$assigned_to{$ag} tickets are assigned to $ag, not an"
                . " agent") unless $agents{$ag};
}

# the users' histories: each ticket once in the one its userKey names
{
    my %in;
    my @l = $r->many(map { ['LRANGE', "${p}user:$_:tickets", 0, -1] }
                     @histories);
    for my $n (0 .. $#histories) {
        for my $id (@{ $l[$n] }) {
            $in{$id}{ $histories[$n] }++;
            bad(history => "user:$histories[$n]:tickets holds $id, which"
                           . " is no ticket") unless $ticket{$id};
        }
    }
    for my $id (@ticket_ids) {
        my $uk = $ticket{$id}{userKey};
        my $h = $in{$id} // {};
        next if !defined $uk && !%$h;   # a store before user keys
        if (!defined $uk || keys(%$h) != 1 || ($h->{$uk} // 0) != 1) {
            bad(history => "ticket $id (userKey " . ($uk // 'none')
                . ") is in the history of "
                . (join(', ', map { "$_ x$h->{$_}" } sort keys %$h)
                   || 'no user'));
        }
    }
}

# closing, solved and closed times
my %closing;
{
    my $z = $r->call('ZRANGE', "${p}closing", 0, -1, 'WITHSCORES');
    for (my $n = 0; $n < @$z; $n += 2) {
        $closing{ $z->[$n] } = $z->[$n + 1];
    }
}
for my $id (@ticket_ids) {
    my $t = $ticket{$id};
    my $s = $t->{state} // '';
    if ($s eq 'solved' || $s eq 'auto_resolved') {
        if (!defined $closing{$id}) {
            bad(closing => "ticket $id is $s, not in closing");
        } elsif (!defined $t->{solvedAt} || $closing{$id} != $t->{solvedAt})
        {
            bad(closing => "ticket $id: closing at $closing{$id}, solvedAt "
                           . ($t->{solvedAt} // '(none)'));
        }
    } elsif (defined $closing{$id}) {
        bad(closing => "ticket $id is $s, but in closing");
    }
    bad(closed => "ticket $id is closed without closedAt")
        if $s eq 'closed' && !defined $t->{closedAt};
}
for my $id (keys %closing) {
    bad(closing => "closing holds $id, which is no ticket")
        unless $ticket{$id};
}
if (defined $o{'close-after'}) {
    # the sweep closes a ticket within cs_close_after and a tick (at most
    # 1 s) of its solve
    my $until = $o{'swept-until'};
    if (!defined $until) {
        my ($s, $us) = @{ $r->call('TIME') };
        $until = $s * 1000 + int($us / 1000);
    }
    my $due = $until - $o{'close-after'} - 5000;
    for my $id (sort { $a <=> $b } keys %closing) {
        bad(sweep => "ticket $id solved at $closing{$id}, still not closed"
                     . " " . ($due + 5000 - $closing{$id}) . " ms after"
                     . " cs_close_after")
            if $closing{$id} < $due;
    }
}

# a rule's answers: auto_resolved has no agent and no first response, and
# was solved when created; a rule's counts are its tickets
my (%answered, %surely_reopened);
for my $id (@ticket_ids) {
    my $t = $ticket{$id};
    my $s = $t->{state} // '';
    if ($s eq 'auto_resolved') {
        bad(auto => "ticket $id is auto_resolved with agent $t->{agent}")
            if defined $t->{agent};
        bad(auto => "ticket $id is auto_resolved with a first response")
            if defined $t->{firstResponseAt};
        bad(auto => "ticket $id is auto_resolved with no rule or answer")
            if !defined $t->{rule} || !defined $t->{answer};
        bad(auto => "ticket $id: auto_resolved, solvedAt "
                    . ($t->{solvedAt} // '(none)') . ", createdAt "
                    . ($t->{createdAt} // '(none)'))
            if ($t->{solvedAt} // -1) != ($t->{createdAt} // -2);
    }
    next unless defined $t->{rule};
    $answered{ $t->{rule} }++;
    # routed since: a customer's message reopened it
    $surely_reopened{ $t->{rule} }++
        if $s =~ /^(queued|assigned|pending|solved)$/;
}
{
    my %rule_names = map { $_ => 1 } @rules, keys %answered;
    for my $name (sort keys %rule_names) {
        my $h = { @{ $r->call('HGETALL', "${p}rule:$name") } };
        my ($ans, $re) = ($h->{answered} // 0, $h->{reopened} // 0);
        my ($n, $min) = ($answered{$name} // 0, $surely_reopened{$name} // 0);
        bad(rule => "rule $name: answered $ans, but $n tickets carry it")
            if $ans != $n;
        bad(rule => "rule $name: reopened $re, but $min of its tickets"
                    . " were routed since, of $n")
            if $re < $min || $re > $n;
    }
}

# messages: first response, and what the records say was acknowledged
my ($msgs, $msg_lost, $msg_doubled, $msgs_acked) = (0, 0, 0, 0);
{
    my %lists;
    my @ids = sort { $a <=> $b } @msg_lists;
    my @l = $r->many(map { ['LRANGE', "${p}ticket:$_:messages", 0, -1] }
                     @ids);
    @lists{@ids} = @l;
    my $json = JSON::PP->new->utf8;
    for my $id (@ids) {
        bad(message => "ticket:$id:messages belongs to no ticket")
            unless $ticket{$id};
    }
    for my $id (@ticket_ids) {
        my $t = $ticket{$id};
        my ($first, %body);
        for my $raw (@{ $lists{$id} // [] }) {
            $msgs++;
            my $m = eval { $json->decode($raw) };
            if (!$m) {
                bad(message => "ticket $id: a message that is no JSON");
                next;
            }
            $body{ $m->{body} // '' }++;
            if (($m->{from} // '') eq 'agent' && !$m->{internal}) {
                $first //= $m->{at};
            }
        }
        my $fr = $t->{firstResponseAt};
        if (defined $first || defined $fr) {
            bad(first_response => "ticket $id: firstResponseAt "
                . ($fr // '(none)') . ", first public agent message at "
                . ($first // '(none)'))
                if ($fr // -1) != ($first // -1);
        }
        for my $b (keys %{ $msg_sent{$id} // {} }) {
            if (($body{$b} // 0) > 1) {
                $msg_doubled++;
                bad(message => "ticket $id: '$b' is there $body{$b} times");
            }
        }
        for my $b (keys %{ $msg_acked{$id} // {} }) {
            $msgs_acked++;
            if (!$body{$b}) {
                $msg_lost++;
                bad(message => "ticket $id: acknowledged message '$b'"
                               . " (call $msg_acked{$id}{$b}) is missing");
            }
        }
    }
}

# acknowledged intakes are stored, as sent
my $lost = 0;
for my $i (sort { $a <=> $b } keys %acked) {
    my ($tid, $q) = ($acked{$i}, $req{$i});
    my $t = $ticket{$tid};
    if (!$t || ($t->{userId} // '') ne $q->{userId}
        || ($t->{issue} // '') ne $q->{issue})
    {
        $lost++;
        bad(lost => "acknowledged ticket $tid (request $i) is "
                    . ($t ? 'another request' : 'not in Redis'));
    }
}

my $seq = $r->call('GET', "${p}ticket:seq") // 0;
bad(seq => "ticket:seq is $seq, below ticket $ticket_ids[-1]")
    if @ticket_ids && $seq < $ticket_ids[-1];

# --- verdict -----------------------------------------------------------------

my $violations = 0;
$violations += $kinds{$_}
    for grep { !/^(lost|doubled|unexpected)$/ } keys %kinds;
my $fail = %kinds || ($o{records} && (!%acked || !$ops));

print STDERR "  $_\n" for @problems;
printf "desk[%s]: %s tickets=%d acked=%d lost=%d doubled=%d ops=%d"
     . " no_answer=%d unexpected=%d messages=%d msgs_acked=%d msg_lost=%d"
     . " msg_doubled=%d violations=%d%s states=%s agents=%s other_keys=%d\n",
    $o{mode}, $fail ? 'FAIL' : 'PASS', scalar(@ticket_ids),
    scalar(keys %acked), $lost, $kinds{doubled} // 0, $ops, $no_answer,
    $unexpected, $msgs, $msgs_acked, $msg_lost, $msg_doubled, $violations,
    join('', map { " $_=$kinds{$_}" }
             grep { !/^(lost|doubled|unexpected|message)$/ } sort keys %kinds),
    join(',', map { "$_:" . ($count{$_} // 0) } @STATES),
    join(',', @agent_view), $other;
printf "desk[%s] calls: %s\n", $o{mode},
    join('; ', map {
        my $op = $_;
        "$op " . join(' ', map { "$_=$outcome{$op}{$_}" }
                           sort { $a <=> $b } keys %{ $outcome{$op} })
    } sort keys %outcome);

exit($fail ? 1 : 0);
