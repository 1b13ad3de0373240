package DeskCheck;

# The invariants of a desk's whole store (DESIGN §Ticket states, §Routing),
# for chaos/desk.pl (after a `make chaos` mode, or by hand) and for
# t/034-routing-property.t (after every step of its random walks).  Core
# Perl only.  The store is read in a few round trips whatever its size
# (SCAN, then each key's TYPE and its read pipelined together), and the
# checks then look at what was read; each violation is reported with its
# ticket id or agent.
#
#   my $d = DeskCheck->new(prefix => 'cs:');
#   $d->read(Resp->new($port));
#   $d->check(bound => { agent => n }, ...);
#   $d->{kinds}{kind} (a count), @{ $d->{problems} } (the first 200)
#
# Invariants:
#   - every key of the desk has its type; every ticket hash is
#     <prefix>ticket:<id> with id = its `id` field, and a known state;
#   - a ticket is in exactly one <prefix>state:<state> index, the one of its
#     state, scored by its id; no index holds a missing ticket;
#   - no ticket id is in two queues (nor twice in one); a ticket is in
#     the backlog (<prefix>backlog; before it, the list queue:unassigned)
#     iff it is queued (and then has no agent), scored by its priority's
#     rank, the time it entered (not before its creation, nor after its
#     latest change) and its id's last digits, in queue:<agent> iff it is
#     assigned or pending and that is its agent, a registry agent; no
#     queue holds a missing ticket or names no agent;
#   - an agent's load is the number of its assigned tickets, and at most
#     its capacity, or the bound the caller gives where capacity may have
#     been lowered below the load (routing never assigns at or over
#     capacity, and lowering takes no ticket away);
#   - <prefix>closing holds exactly the solved and auto_resolved tickets,
#     each scored by its solvedAt, none (with close_after) overdue for the
#     sweep by more than 5 s; a closed ticket has closedAt;
#   - firstResponseAt is the time of the first public agent message, and
#     is set when there is one; no messages list, events index
#     (ticket:<id>:events) or idempotency index (ticket:<id>:idems)
#     outlives its ticket;
#   - a ticket is once in the history of the user its userKey names, and
#     in no other;
#   - an auto_resolved ticket has a rule and its answer, no agent, no first
#     response, and solvedAt = createdAt; a rule's `answered` is the number
#     of tickets it answered (those users/erase erased counted as its
#     `erased`), its `reopened` at most that and at least
#     those of them routed since;
#   - ticket:seq is at least the highest id;
#   - with metrics => 1 (a store every ticket of which the scripts made):
#     the figures of <prefix>metrics count the tickets there are: by
#     channel, priority and category each sum to them; the ratings, first
#     responses, first solves, auto-resolved tickets and their reopens,
#     customers and repeat customers are those the tickets and histories
#     show; the tickets by state are the state indexes' cardinalities by
#     construction (GET metrics reads them).

use strict;
use warnings;
use JSON::PP;

our @STATES = qw(queued assigned pending solved closed auto_resolved);
my %STATE = map { $_ => 1 } @STATES;
my %RANK = (urgent => 0, high => 1, normal => 2, low => 3);
my $BAND = 1e15;

sub new {
    my ($class, %o) = @_;
    return bless { prefix => $o{prefix} // 'cs:', kinds => {},
                   problems => [] }, $class;
}

# one violation: counted by kind, shown (the first 200)
sub bad {
    my ($self, $kind, $what) = @_;
    $self->{kinds}{$kind}++;
    push @{ $self->{problems} }, "$kind: $what"
        if @{ $self->{problems} } < 200;
}

# the type a key of the desk must have, and the command that reads it for
# the checks (none: its type alone is checked); undef for a key the desk
# does not name
my %want = (events => 'stream', agents => 'set', closing => 'zset',
            backlog => 'zset', 'ticket:seq' => 'string',
            'lock:sweep' => 'string', metrics => 'hash');
my %reader = (hash => ['HGETALL'], list => ['LRANGE', 0, -1],
              zset => ['ZRANGE', 0, -1, 'WITHSCORES'], set => ['SMEMBERS'],
              string => ['GET']);

sub kind_of {
    my ($rest) = @_;
    return ('hash', 'ticket', $1) if $rest =~ /^ticket:(\d+)$/;
    return ('list', 'messages', $1) if $rest =~ /^ticket:(\d+):messages$/;
    # users/export's indexes: a ticket's stream entries and its messages'
    # Idempotency-Keys; the records themselves
    return ('list', 'tevents', $1) if $rest =~ /^ticket:(\d+):events$/;
    return ('set', 'tidems', $1) if $rest =~ /^ticket:(\d+):idems$/;
    return ('string') if $rest =~ /^ticket:\d+:idem:/;
    return ('list', 'queue', $1) if $rest =~ /^queue:(.+)$/;
    return ('zset', 'index', $1) if $rest =~ /^state:(.+)$/;
    return ('hash', 'agent', $1) if $rest =~ /^agent:(.+)$/;
    return ('list', 'history', $1) if $rest =~ /^user:([^:]+):tickets$/;
    return ('hash') if $rest =~ /^user:[^:]+$/;     # the user's record
    return ('hash', 'rule', $1) if $rest =~ /^rule:(.+)$/;
    return ($rest eq 'route:rr' ? 'string' : 'hash') if $rest =~ /^route:/;
    return ('string') if $rest =~ /^idem:/;
    # trends and recurring problems (ngx_http_cs_insights.lua): types only
    return ('hash') if $rest =~ /^trend:\d+$/;
    return ('list') if $rest =~ /^recur:surge:[^:]+:minutes$/;
    return ('hash') if $rest =~ /^recur:surge:[^:]+$/ || $rest eq 'recur:alerted';
    return ('zset') if $rest =~ /^recur:unhappy:[^:]+$/;
    return ($want{$rest}) if $rest eq 'events' || $rest eq 'lock:sweep';
    return ($want{$rest}, $rest) if $want{$rest};
    return;
}

# reads every key of the desk that the checks look at:
#   {ticket}{id}, {agent}{name}, {rule}{name}: hashes;
#   {queue}{name}, {history}{ukey}, {messages}{id}: lists;
#   {index}{state}, {backlog}, {closing}: [[member, score], ...];
#   {agents}: the registry's names; {seq}; {keys}: every key's type
sub read {
    my ($self, $r) = @_;
    my $p = $self->{prefix};
    $self->{r} = $r;
    my @keys = $r->keys_like("$p*");
    my (@cmds, @plan);
    for my $k (@keys) {
        my ($type, $what, $name) = kind_of(substr($k, length $p));
        push @cmds, ['TYPE', $k];
        my $read = defined $what && $reader{$type};
        push @cmds, [@{$read}[0], $k, @{$read}[1 .. $#$read]] if $read;
        push @plan, [$k, $type, $what, $name, $read ? 1 : 0];
    }
    my @replies = $r->many(@cmds);
    my %d = (ticket => {}, agent => {}, rule => {}, queue => {},
             history => {}, messages => {}, index => {}, keys => {},
             tevents => {}, tidems => {},
             agents => [], backlog => [], closing => [], other => 0);
    for my $pl (@plan) {
        my ($k, $type, $what, $name, $read) = @$pl;
        my $t = shift @replies;
        my $v = $read ? shift @replies : undef;
        $d{keys}{$k} = $t;
        if (!defined $type) {
            $d{other}++;
            next;
        }
        if ($t ne $type) {
            $self->bad(type => "$k is a $t, not a $type");
            next;
        }
        next unless $read;
        if ($type eq 'zset') {
            $v = [ map { [ $v->[2 * $_], $v->[2 * $_ + 1] ] }
                   0 .. @$v / 2 - 1 ];
        } elsif ($type eq 'hash') {
            $v = { @$v };
        }
        if ($what eq 'backlog' || $what eq 'closing' || $what eq 'agents'
            || $what eq 'metrics')
        {
            $d{$what} = $v;
        } elsif ($what eq 'ticket:seq') {
            $d{seq} = $v;
        } else {
            $d{$what}{$name} = $v;
        }
    }
    @$self{ keys %d } = values %d;
    return $self;
}

# the checks on what read() found; %o: bound => {agent => the most load it
# may have} where capacity may have been lowered below it (else its
# capacity), bound_is => what that bound is (for the report);
# close_after => ms and swept_until => ms (else Redis' time): the sweep's
# lateness
sub check {
    my ($self, %o) = @_;
    my $p = $self->{prefix};
    my $tickets = $self->{ticket};
    my @ids = sort { $a <=> $b } keys %$tickets;
    $self->{ids} = \@ids;

    my %count;
    for my $id (@ids) {
        my $t = $tickets->{$id};
        my $s = $t->{state} // '(none)';
        $count{$s}++;
        $self->bad(ticket => "ticket $id: its id field is "
                             . ($t->{id} // '(none)'))
            if ($t->{id} // '') ne $id;
        $self->bad(ticket => "ticket $id: state '$s'") unless $STATE{$s};
    }
    $self->{count} = \%count;

    $self->check_indexes;
    $self->check_queues;
    $self->check_agents(%o);
    $self->check_histories;
    $self->check_closing(%o);
    $self->check_rules;
    $self->check_messages;
    $self->check_metrics if $o{metrics};

    my $seq = $self->{seq} // 0;
    $self->bad(seq => "ticket:seq is $seq, below ticket $ids[-1]")
        if @ids && $seq < $ids[-1];
    return $self;
}

# the state indexes
sub check_indexes {
    my ($self) = @_;
    my $tickets = $self->{ticket};
    my %indexed;
    for my $s (sort keys %{ $self->{index} }) {
        $self->bad(index => "$self->{prefix}state:$s: no such state")
            unless $STATE{$s};
        for my $e (@{ $self->{index}{$s} }) {
            my ($id, $score) = @$e;
            push @{ $indexed{$id} }, $s;
            $self->bad(index => "ticket $id in state:$s scored $score")
                if $score != $id;
            $self->bad(index => "state:$s holds $id, which is no ticket")
                unless $tickets->{$id};
        }
    }
    for my $id (@{ $self->{ids} }) {
        my $s = $tickets->{$id}{state} // '(none)';
        my @in = @{ $indexed{$id} // [] };
        if (@in != 1 || $in[0] ne $s) {
            $self->bad(index => "ticket $id ($s) is in the index of "
                                . (@in ? join(', ', sort @in)
                                       : 'no state'));
        }
    }
}

# the queues: the backlog (a sorted set; before it, the list
# queue:unassigned) and the agents' lists
sub check_queues {
    my ($self) = @_;
    my $p = $self->{prefix};
    my $tickets = $self->{ticket};
    my %agents = map { $_ => 1 } @{ $self->{agents} };
    my $has_backlog = exists $self->{keys}{"${p}backlog"};
    my $legacy = !$has_backlog && exists $self->{queue}{unassigned};
    my $backlog = $legacy ? 'queue:unassigned' : 'backlog';
    my %queued_in;
    for my $q (sort keys %{ $self->{queue} }) {
        $self->bad(queue => "queue:$q belongs to no agent")
            unless $agents{$q} || ($legacy && $q eq 'unassigned');
        for my $id (@{ $self->{queue}{$q} }) {
            $queued_in{$id}{"queue:$q"}++;
            $self->bad(queue => "queue:$q holds $id, which is no ticket")
                unless $tickets->{$id};
        }
    }
    # the score: priority rank x 10^15 + the time it entered (ms) x 100 +
    # the id's last two digits
    for my $e (@{ $self->{backlog} }) {
        my ($id, $score) = @$e;
        $queued_in{$id}{backlog}++;
        my $t = $tickets->{$id};
        if (!$t) {
            $self->bad(queue => "backlog holds $id, which is no ticket");
            next;
        }
        my $rank = $RANK{ $t->{priority} // '' } // -1;
        my $entered = int(($score - int($score / $BAND) * $BAND) / 100);
        my $changed = $t->{updatedAt} // $t->{createdAt} // 0;
        if (int($score / $BAND) != $rank || $score % 100 != $id % 100) {
            $self->bad(queue => "ticket $id ($t->{priority}) waits in the"
                                . " backlog scored $score");
        } elsif ($entered < ($t->{createdAt} // 0) || $entered > $changed) {
            $self->bad(queue => "ticket $id entered the backlog at"
                                . " $entered, created at "
                                . ($t->{createdAt} // '(none)')
                                . ", changed last at $changed");
        }
    }
    my %assigned_to;
    for my $id (@{ $self->{ids} }) {
        my $t = $tickets->{$id};
        my $s = $t->{state} // '';
        my $in = $queued_in{$id} // {};
        my $where = join(', ', map { "$_ x$in->{$_}" } sort keys %$in)
                    || 'no queue';
        my $want;
        if ($s eq 'queued') {
            $want = $backlog;
            $self->bad(queue => "ticket $id is queued with agent"
                                . " $t->{agent}")
                if defined $t->{agent};
        } elsif ($s eq 'assigned' || $s eq 'pending') {
            if (!defined $t->{agent}) {
                $self->bad(queue => "ticket $id is $s with no agent");
            } elsif (!$agents{ $t->{agent} }) {
                $self->bad(queue => "ticket $id is $s to $t->{agent}, no"
                                    . " agent of the registry");
            }
            $want = 'queue:' . ($t->{agent} // '(none)');
            $assigned_to{ $t->{agent} // '(none)' }++ if $s eq 'assigned';
        }
        if (defined $want) {
            if (keys(%$in) != 1 || ($in->{$want} // 0) != 1) {
                $self->bad(queue => "ticket $id ($s"
                           . (defined $t->{agent} ? ", $t->{agent}" : '')
                           . ") is in $where, not once in $want");
            }
        } elsif (%$in) {
            $self->bad(queue => "ticket $id ($s) is in $where");
        }
    }
    $self->{assigned_to} = \%assigned_to;
}

# the agents: load, and capacity as a hard limit for routing
sub check_agents {
    my ($self, %o) = @_;
    my $assigned_to = $self->{assigned_to};
    my %agents = map { $_ => 1 } @{ $self->{agents} };
    my $bound = $o{bound} // {};
    my @view;
    for my $ag (sort keys %agents) {
        my $a = $self->{agent}{$ag};
        if (!$a || !%$a) {
            $self->bad(agent => "agent $ag is in agents but has no hash");
            next;
        }
        my $load = $a->{load} // 0;
        my $cap = $a->{capacity} // 0;
        my $n = $assigned_to->{$ag} // 0;
        $self->bad(load => "agent $ag: load $load, but $n assigned tickets")
            if $load != $n;
        my $most = $bound->{$ag} // $cap;
        $self->bad(capacity => "agent $ag: load $load over capacity $cap"
                   . (defined $bound->{$ag}
                      ? " (and over $most, " . ($o{bound_is} // 'its bound')
                        . ')' : ''))
            if $load > $most;
        push @view, "$ag:$load/$cap"
                    . (defined $bound->{$ag} ? "<=$most" : '');
    }
    for my $ag (sort keys %$assigned_to) {
        $self->bad(load => "$assigned_to->{$ag} tickets are assigned to $ag,"
                           . " not an agent") unless $agents{$ag};
    }
    $self->{agent_view} = \@view;
}

# the users' histories: each ticket once in the one its userKey names
sub check_histories {
    my ($self) = @_;
    my $tickets = $self->{ticket};
    my %in;
    for my $uk (sort keys %{ $self->{history} }) {
        for my $id (@{ $self->{history}{$uk} }) {
            $in{$id}{$uk}++;
            $self->bad(history => "user:$uk:tickets holds $id, which is"
                                  . " no ticket") unless $tickets->{$id};
        }
    }
    for my $id (@{ $self->{ids} }) {
        my $uk = $tickets->{$id}{userKey};
        my $h = $in{$id} // {};
        next if !defined $uk && !%$h;   # a store before user keys
        if (!defined $uk || keys(%$h) != 1 || ($h->{$uk} // 0) != 1) {
            $self->bad(history => "ticket $id (userKey " . ($uk // 'none')
                       . ") is in the history of "
                       . (join(', ', map { "$_ x$h->{$_}" } sort keys %$h)
                          || 'no user'));
        }
    }
}

# closing, solved and closed times
sub check_closing {
    my ($self, %o) = @_;
    my $tickets = $self->{ticket};
    my %closing = map { $_->[0] => $_->[1] } @{ $self->{closing} };
    for my $id (@{ $self->{ids} }) {
        my $t = $tickets->{$id};
        my $s = $t->{state} // '';
        if ($s eq 'solved' || $s eq 'auto_resolved') {
            if (!defined $closing{$id}) {
                $self->bad(closing => "ticket $id is $s, not in closing");
            } elsif (!defined $t->{solvedAt}
                     || $closing{$id} != $t->{solvedAt})
            {
                $self->bad(closing => "ticket $id: closing at $closing{$id},"
                           . " solvedAt " . ($t->{solvedAt} // '(none)'));
            }
        } elsif (defined $closing{$id}) {
            $self->bad(closing => "ticket $id is $s, but in closing");
        }
        $self->bad(closed => "ticket $id is closed without closedAt")
            if $s eq 'closed' && !defined $t->{closedAt};
    }
    for my $id (keys %closing) {
        $self->bad(closing => "closing holds $id, which is no ticket")
            unless $tickets->{$id};
    }
    return unless defined $o{close_after};
    # the sweep closes a ticket within cs_close_after and a tick (at most
    # 1 s) of its solve
    my $until = $o{swept_until};
    if (!defined $until) {
        my ($s, $us) = @{ $self->{r}->call('TIME') };
        $until = $s * 1000 + int($us / 1000);
    }
    my $due = $until - $o{close_after} - 5000;
    for my $id (sort { $a <=> $b } keys %closing) {
        $self->bad(sweep => "ticket $id solved at $closing{$id}, still not"
                   . " closed " . ($due + 5000 - $closing{$id}) . " ms"
                   . " after cs_close_after")
            if $closing{$id} < $due;
    }
}

# a rule's answers: auto_resolved has no agent and no first response, and
# was solved when created; a rule's counts are its tickets
sub check_rules {
    my ($self) = @_;
    my $tickets = $self->{ticket};
    my (%answered, %surely_reopened);
    for my $id (@{ $self->{ids} }) {
        my $t = $tickets->{$id};
        my $s = $t->{state} // '';
        if ($s eq 'auto_resolved') {
            $self->bad(auto => "ticket $id is auto_resolved with agent"
                               . " $t->{agent}")
                if defined $t->{agent};
            $self->bad(auto => "ticket $id is auto_resolved with a first"
                               . " response")
                if defined $t->{firstResponseAt};
            $self->bad(auto => "ticket $id is auto_resolved with no rule or"
                               . " answer")
                if !defined $t->{rule} || !defined $t->{answer};
            $self->bad(auto => "ticket $id: auto_resolved, solvedAt "
                               . ($t->{solvedAt} // '(none)')
                               . ", createdAt "
                               . ($t->{createdAt} // '(none)'))
                if ($t->{solvedAt} // -1) != ($t->{createdAt} // -2);
        }
        next unless defined $t->{rule};
        $answered{ $t->{rule} }++;
        # routed since: a customer's message reopened it
        $surely_reopened{ $t->{rule} }++
            if $s =~ /^(queued|assigned|pending|solved)$/;
    }
    my %rule_names = map { $_ => 1 } keys %{ $self->{rule} }, keys %answered;
    for my $name (sort keys %rule_names) {
        my $h = $self->{rule}{$name} // {};
        my ($ans, $re) = ($h->{answered} // 0, $h->{reopened} // 0);
        # users/erase: an erased ticket stays counted (the past), as erased
        my $gone = $h->{erased} // 0;
        my ($n, $min) = ($answered{$name} // 0, $surely_reopened{$name} // 0);
        $self->bad(rule => "rule $name: answered $ans, but $n tickets carry"
                           . " it and $gone were erased")
            if $ans != $n + $gone;
        $self->bad(rule => "rule $name: reopened $re, but $min of its"
                           . " tickets were routed since, of $ans")
            if $re < $min || $re > $ans;
    }
}

# the figures against the tickets they count (see check())
sub check_metrics {
    my ($self) = @_;
    my $m = $self->{metrics} // {};
    my $tickets = $self->{ticket};
    my $n = @{ $self->{ids} };
    my (%sum, %want);
    for my $k (keys %$m) {
        if ($k =~ /^tickets:[^:]+:[^:]+:[^:]+:([12n])$/) {
            $sum{$_} += $m->{$k} for qw(channel priority category);
            $sum{customers} += $m->{$k} if $1 eq '1';
            $sum{customers_repeat} += $m->{$k} if $1 eq '2';
        }
        $sum{$1} += $m->{$k} if $k =~ /^(first_response|resolution)_bucket:/;
    }
    for my $f (qw(channel priority category)) {
        $self->bad(metrics => "tickets by $f sum to " . ($sum{$f} // 0)
                              . ", but there are $n tickets")
            if ($sum{$f} // 0) != $n;
    }
    $want{$_} = 0 for qw(csat_ratings csat_sum csat_satisfied ces_ratings
                         ces_sum auto_resolved auto_reopened customers
                         customers_repeat first_response resolution);
    for my $id (@{ $self->{ids} }) {
        my $t = $tickets->{$id};
        if (defined $t->{csat}) {
            $want{csat_ratings}++;
            $want{csat_sum} += $t->{csat};
            $want{csat_satisfied}++ if $t->{csat} >= 4;
        }
        if (defined $t->{ces}) {
            $want{ces_ratings}++;
            $want{ces_sum} += $t->{ces};
        }
        $want{auto_resolved}++ if defined $t->{rule};
        $want{first_response}++ if defined $t->{firstResponseAt};
        $want{resolution}++ if defined $t->{firstSolvedAt};
    }
    $want{auto_reopened} += $_->{reopened} // 0 for values %{ $self->{rule} };
    for my $h (values %{ $self->{history} }) {
        $want{customers}++ if @$h >= 1;
        $want{customers_repeat}++ if @$h >= 2;
    }
    for my $f (sort keys %want) {
        my $got = $f =~ /^(first_response|resolution|customers.*)$/
                  ? $sum{$f} : $m->{$f};
        $self->bad(metrics => "$f is " . ($got // 0) . ", the tickets show"
                              . " $want{$f}")
            if ($got // 0) != $want{$f};
    }
}

# messages: each JSON, and the first response; {bodies}{id}{body}: how
# many times that body is there, for a caller that knows what was sent
sub check_messages {
    my ($self) = @_;
    my $tickets = $self->{ticket};
    my $json = JSON::PP->new->utf8;
    my %bodies;
    my $msgs = 0;
    for my $id (sort { $a <=> $b } keys %{ $self->{messages} }) {
        $self->bad(message => "ticket:$id:messages belongs to no ticket")
            unless $tickets->{$id};
    }
    for my $what (qw(tevents tidems)) {
        for my $id (sort { $a <=> $b } keys %{ $self->{$what} }) {
            $self->bad(message => "ticket $id: its $what index belongs to"
                                  . " no ticket") unless $tickets->{$id};
        }
    }
    for my $id (@{ $self->{ids} }) {
        my $t = $tickets->{$id};
        my ($first, %at);
        for my $raw (@{ $self->{messages}{$id} // [] }) {
            $msgs++;
            my $m = eval { $json->decode($raw) };
            if (!$m) {
                $self->bad(message => "ticket $id: a message that is no"
                                      . " JSON");
                next;
            }
            $bodies{$id}{ $m->{body} // '' }++;
            if (($m->{from} // '') eq 'agent' && !$m->{internal}) {
                $first //= $m->{at};
                $at{ $m->{at} } = 1;
            }
        }
        my $fr = $t->{firstResponseAt};
        if (defined $t->{rule}) {
            # a rule answered it: a reply while it was auto_resolved is no
            # first response, one after a reopen is
            $self->bad(first_response => "ticket $id: firstResponseAt $fr"
                       . " is the time of no public agent message")
                if defined $fr && !$at{$fr};
        } elsif (defined $first || defined $fr) {
            $self->bad(first_response => "ticket $id: firstResponseAt "
                       . ($fr // '(none)') . ", first public agent message"
                       . " at " . ($first // '(none)'))
                if ($fr // -1) != ($first // -1);
        }
    }
    $self->{bodies} = \%bodies;
    $self->{msgs} = $msgs;
}

1;
