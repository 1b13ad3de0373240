# The ticket's life: a customer, its agent and an admin move a ticket along
# the states' table (DESIGN §Ticket states), over HTTP, each step asserted
# in the answer and in Redis.  Every change the table allows works, every
# other is 409 invalid_transition and writes nothing.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use JSON::PP;

redis_start();

our $Admin = $CsApi::Admin;

sub events {
    my $r = CsTest::redis();
    return [ map { { @{ $_->[1] } } } $r->xrange('cs:events', '-', '+') ];
}

sub status { return CsApi::api(POST => "tickets/$_[0]/status", $_[1],
                               qq({"state":"$_[2]"})) }

sub message {
    my ($id, $token, $text, $internal) = @_;
    return CsApi::api(POST => "tickets/$id/messages", $token,
                      JSON::PP->new->encode({ body => $text,
                                              ($internal ? (internal => JSON::PP::true) : ()) }));
}

# a ticket of alice's in this state, made through the API; its id and the
# customer's token
sub ticket_in {
    my ($state, $alice) = @_;
    my $t = CsApi::intake('u-' . int(rand(1e9)));
    my $id = $t->{ticketId};
    if ($state eq 'queued') {
        # let go by alice, and no one else: it waits
        CsApi::api(POST => "tickets/$id/assign", $alice, '{"agent":null}');
    } elsif ($state eq 'pending' || $state eq 'solved') {
        status($id, $alice, $state);
    } elsif ($state eq 'closed') {
        status($id, $alice, 'solved');
        status($id, $alice, 'closed');
    } elsif ($state eq 'auto_resolved') {
        # a rule's answer (cs_rule) makes this state at intake; here the
        # store is set as the intake leaves it
        my $r = CsTest::redis();
        CsApi::api(POST => "tickets/$id/assign", $alice, '{"agent":null}');
        $r->zrem('cs:backlog', $id);
        $r->zrem('cs:state:queued', $id);
        $r->zadd('cs:state:auto_resolved', $id, $id);
        $r->hset("cs:ticket:$id", 'state', 'auto_resolved', 'solvedAt',
                 $r->hget("cs:ticket:$id", 'createdAt'), 'rule', 'seeded',
                 'answer', 'an answer');
        $r->hincrby('cs:rule:seeded', 'answered', 1);
        $r->hdel("cs:ticket:$id", 'agent');
        $r->zadd('cs:closing', $r->hget("cs:ticket:$id", 'solvedAt'), $id);
    }
    my $got = CsTest::redis()->hget("cs:ticket:$id", 'state');
    die "ticket $id is $got, not $state\n" unless $got eq $state;
    return ($id, $t->{token});
}

check_stored_sections();

desk_blocks();

run_tests();

__DATA__

=== TEST 1: the whole life: intake, the customer reads, the agent replies, pending, the customer writes (reopen), solved, closed
--- stored
my $alice = new_agent('alice', 2);
my $t = intake('ann');
my ($id, $tok) = ($t->{ticketId}, $t->{token});
is($t->{agent}, 'alice', "$name - intake: assigned to alice");
is_deeply([ $r->zrange('cs:state:assigned', 0, -1) ], [$id], "$name - indexed as assigned");

my ($st, $g) = api(GET => "tickets/$id", $tok);
is($st, 200, "$name - the customer reads it with its token");
is($g->{state}, 'assigned', "$name - assigned");

($st, my $m) = message($id, $alice, 'Have you tried turning it off?');
is($st, 201, "$name - the agent replies: 201");
is($m->{message}{from}, 'agent', "$name - from the agent");
is($m->{message}{agent}, 'alice', "$name - named");
my $first = $r->hget("cs:ticket:$id", 'firstResponseAt');
ok($first && $first >= $r->hget("cs:ticket:$id", 'createdAt'), "$name - firstResponseAt is set");
($st, $m) = message($id, $alice, 'a note for us', 1);
is($st, 201, "$name - an internal note");
(undef, $g) = api(GET => "tickets/$id", $tok);
is(scalar @{ $g->{messages} }, 1, "$name - the customer does not see the note");
(undef, $g) = api(GET => "tickets/$id", $alice);
is(scalar @{ $g->{messages} }, 2, "$name - the agent does");
ok($g->{messages}[1]{internal}, "$name - as internal");

($st, my $p) = status($id, $alice, 'pending');
is($st, 200, "$name - pending: 200");
is_deeply($p, { status => 'success', ticketId => $id, state => 'pending', agent => 'alice' },
          "$name - the answer: ticketId, state, agent");
is($r->hget('cs:agent:alice', 'load'), 0, "$name - pending is not load");
is_deeply([ $r->lrange('cs:queue:alice', 0, -1) ], [$id], "$name - but still alice's open ticket");

($st, $m) = message($id, $tok, 'It still does not work');
is($st, 201, "$name - the customer writes: 201");
is($m->{state}, 'assigned', "$name - reopened: assigned");
is($m->{agent}, 'alice', "$name - to alice again, who may take it");
is($r->hget('cs:agent:alice', 'load'), 1, "$name - load again");
is($r->hget("cs:ticket:$id", 'firstResponseAt'), $first, "$name - firstResponseAt is set once");
message($id, $alice, 'Fixed now');
is($r->hget("cs:ticket:$id", 'firstResponseAt'), $first, "$name - still once");

($st, $p) = status($id, $alice, 'solved');
is($p->{state}, 'solved', "$name - solved");
my $solved = $r->hget("cs:ticket:$id", 'solvedAt');
ok($solved, "$name - solvedAt");
is($r->zscore('cs:closing', $id), $solved, "$name - waits for cs_close_after");
is($r->llen('cs:queue:alice'), 0, "$name - no longer open");
is($r->hget('cs:agent:alice', 'load'), 0, "$name - no longer load");

($st, $p) = status($id, $alice, 'closed');
is($p->{state}, 'closed', "$name - closed by its agent");
ok($r->hget("cs:ticket:$id", 'closedAt'), "$name - closedAt");
is($r->zcard('cs:closing'), 0, "$name - no longer waiting to close");
is_deeply([ $r->zrange('cs:state:closed', 0, -1) ], [$id], "$name - indexed as closed");
is($r->zcard("cs:state:$_"), 0, "$name - and in no other state's index ($_)")
    for qw(queued assigned pending solved auto_resolved);

($st, $m) = message($id, $tok, 'one more thing');
is($st, 409, "$name - a message to a closed ticket: 409");
is($m->{error}, 'ticket_closed', "$name - ticket_closed");
(undef, $g) = api(GET => "tickets/$id", $tok);
is($g->{state}, 'closed', "$name - it stays readable");

my @types = map { $_->{type} } @{ main::events() };
is_deeply(\@types, [qw(agent.created agent.presence ticket.created ticket.message
                       ticket.message ticket.status ticket.reopened ticket.message
                       ticket.message ticket.status ticket.status)],
          "$name - every change is an event");
my @actors = map { $_->{actor} } grep { $_->{type} =~ /^ticket\.(status|message|reopened)$/ } @{ main::events() };
# privacy: a customer is named by the event id of the user's record (found
# through the ticket's userKey), never by the userId or the ticket
my $customer = 'customer:' . $r->hget('cs:user:'
                                      . $r->hget("cs:ticket:$id", 'userKey'),
                                      'eventId');
like($customer, qr/^customer:[A-Za-z0-9_-]{22}$/, "$name - the customer");
is_deeply(\@actors, [ ('agent:alice') x 3, ($customer) x 2,
                      ('agent:alice') x 3 ],
          "$name - naming the actor");



=== TEST 2: every change of the states' table works, by those it names; every other is 409 invalid_transition and writes nothing
--- stored
my $alice = new_agent('alice', 1000);
my %ok = (
    'queued>closed' => 'admin',
    'assigned>pending' => 'both', 'assigned>solved' => 'both', 'assigned>closed' => 'admin',
    'pending>solved' => 'both', 'pending>closed' => 'admin',
    'solved>closed' => 'both', 'auto_resolved>closed' => 'admin',
);
for my $from (qw(queued assigned pending solved closed auto_resolved)) {
    for my $to (qw(pending solved closed)) {
        for my $who (qw(agent admin)) {
            my ($id) = main::ticket_in($from, $alice);
            my $token = $who eq 'agent' ? $alice : $main::Admin;
            my $allowed = $ok{"$from>$to"} || '';
            my $mine = $r->hget("cs:ticket:$id", 'agent');
            my $before = store();
            my ($st, $b) = main::status($id, $token, $to);
            if ($who eq 'agent' && !$mine) {
                is($st, 403, "$name - $from to $to by an agent it is not assigned to: 403");
                is(store(), $before, "$name - $from to $to by the agent: nothing written");
            } elsif ($allowed eq 'both' || $allowed eq $who) {
                is($st, 200, "$name - $from to $to by the $who: 200");
                is($r->hget("cs:ticket:$id", 'state'), $to, "$name - $from to $to by the $who: stored");
                is($r->zscore("cs:state:$to", $id), $id, "$name - $from to $to by the $who: indexed");
                ok(!defined $r->zscore("cs:state:$from", $id), "$name - $from to $to by the $who: out of $from");
            } else {
                is($st, 409, "$name - $from to $to by the $who: 409");
                is($b->{error}, 'invalid_transition', "$name - $from to $to by the $who: invalid_transition");
                is(store(), $before, "$name - $from to $to by the $who: nothing written");
            }
        }
    }
}
invariants_hold($name);



=== TEST 3: a customer's message reopens pending, solved and auto_resolved tickets: back to its agent when it may take work, else routed like a new ticket
--- stored
my $alice = new_agent('alice', 1000);
for my $from (qw(pending solved)) {
    my ($id, $tok) = main::ticket_in($from, $alice);
    $r->hset('cs:agent:alice', 'lastAssigned', 1);
    my ($st, $m) = main::message($id, $tok, 'again');
    cmp_ok($r->hget('cs:agent:alice', 'lastAssigned'), '>', 1,
           "$name - $from: an assignment: alice's last assignment moves");
    is($m->{state}, 'assigned', "$name - $from: assigned");
    is($m->{agent}, 'alice', "$name - $from: back to alice");
    is($r->zscore('cs:state:assigned', $id), $id, "$name - $from: indexed");
    ok(!defined $r->zscore('cs:closing', $id), "$name - $from: no longer closing");
}
my ($id, $tok) = main::ticket_in('auto_resolved', $alice);
my ($st, $m) = main::message($id, $tok, 'the answer did not help');
is($m->{state}, 'assigned', "$name - auto_resolved: routed to an agent");
is($m->{agent}, 'alice', "$name - the one online");
# alice goes away: her solved ticket is routed to bob on reopen
($id, $tok) = main::ticket_in('solved', $alice);
my $bob = new_agent('bob', 5);
api(PUT => 'agents/alice/presence', $alice, '{"status":"away"}');
($st, $m) = main::message($id, $tok, 'again');
is($m->{agent}, 'bob', "$name - alice away: routed to bob");
is_deeply([ $r->lrange('cs:queue:bob', 0, -1) ], [$id], "$name - in bob's queue");
# no one: the backlog
($id, $tok) = main::ticket_in('pending', $bob);
api(PUT => 'agents/bob/presence', $bob, '{"status":"away"}');
($st, $m) = main::message($id, $tok, 'again');
is($m->{state}, 'queued', "$name - no one may take it: queued");
is(($r->zrange('cs:backlog', -1, -1))[0], $id, "$name - in the backlog");
ok(!grep({ $_ == $id } $r->lrange('cs:queue:bob', 0, -1)), "$name - out of bob's queue");
# a message on an assigned ticket changes nothing
api(PUT => 'agents/bob/presence', $bob, '{"status":"online"}');
my ($id2, $tok2) = main::ticket_in('assigned', $bob);
($st, $m) = main::message($id2, $tok2, 'hello?');
is($m->{state}, 'assigned', "$name - assigned stays assigned");



=== TEST 4: who may write: a customer only its own ticket, never internal; an agent only its tickets; bad bodies are 422; each writes nothing
--- stored
my $alice = new_agent('alice', 5);
my $bob = new_agent('bob', 5, 'away');
my ($id, $tok) = main::ticket_in('assigned', $alice);
my ($id2, $tok2) = main::ticket_in('assigned', $alice);
my $before = store();
my @cases = (
    [ 'another ticket\'s token', $tok2, '{"body":"x"}', 401, 'unauthorized' ],
    [ 'an internal note from a customer', $tok, '{"body":"x","internal":true}', 403, 'forbidden' ],
    [ 'an agent the ticket is not assigned to', $bob, '{"body":"x"}', 403, 'forbidden' ],
    [ 'no credentials', undef, '{"body":"x"}', 401, 'unauthorized' ],
    [ 'an empty body', $tok, '{"body":""}', 422, 'invalid_field' ],
    [ 'a blank body', $tok, '{"body":"   "}', 422, 'invalid_field' ],
    [ 'a body over cs_issue_max_length', $tok, '{"body":"' . ('x' x 5001) . '"}', 422, 'invalid_field' ],
    [ 'no body field', $tok, '{}', 422, 'missing_field' ],
    [ 'an unknown field', $tok, '{"body":"x","to":"y"}', 422, 'unknown_field' ],
);
for my $c (@cases) {
    my ($what, $token, $json, $code, $err) = @$c;
    my ($st, $b) = api(POST => "tickets/$id/messages", $token, $json);
    is($st, $code, "$name - $what: $code");
    is($b->{error}, $err, "$name - $what: $err");
}
my ($st, $b) = api(POST => 'tickets/999/messages', $main::Admin, '{"body":"x"}');
is($st, 404, "$name - no such ticket: 404");
for my $bad ('tickets/0/messages', 'tickets/1234567890123456/messages', 'tickets/x/messages') {
    ($st) = api(POST => $bad, $main::Admin, '{"body":"x"}');
    is($st, 404, "$name - $bad: 404");
}
($st, $b) = main::status($id, $main::Admin, 'open');
is($st, 422, "$name - an unknown state: 422");
is($b->{error}, 'invalid_field', "$name - invalid_field");
is($b->{field}, 'state', "$name - naming state");
($st) = main::status($id, $tok, 'solved');
is($st, 403, "$name - a customer cannot change the state");
is(store(), $before, "$name - nothing written by any of them");



=== TEST 5: a message takes an Idempotency-Key like intake: the same message again answers the first time's body and writes nothing; another message under that key is 409
--- stored
my $alice = new_agent('alice', 5);
my ($id, $tok) = main::ticket_in('pending', $alice);
my ($st, $m) = api(POST => "tickets/$id/messages", $tok, '{"body":"again"}',
                   { 'Idempotency-Key' => 'k-1' });
is($st, 201, "$name - first: 201");
is($m->{state}, 'assigned', "$name - reopened");
my $before = store();
my ($st2, $m2) = api(POST => "tickets/$id/messages", $tok, '{"body":"again"}',
                     { 'Idempotency-Key' => 'k-1' });
is($st2, 201, "$name - again: 201");
is_deeply($m2, $m, "$name - the first answer");
is(store(), $before, "$name - nothing written");
is($r->llen("cs:ticket:$id:messages"), 1, "$name - one message");
($st, $m) = api(POST => "tickets/$id/messages", $tok, '{"body":"other"}',
                { 'Idempotency-Key' => 'k-1' });
is($st, 409, "$name - another message under the key: 409");
is($m->{error}, 'idempotency_key_reused', "$name - idempotency_key_reused");
# an intake's key cannot name a message's record
my ($ist) = api(POST => 'service', undef, '{"userId":"x","issue":"y"}',
                { 'Idempotency-Key' => "message:$id:k-2" });
is($ist, 201, "$name - an intake with a key shaped like a message's");
($st, $m) = api(POST => "tickets/$id/messages", $tok, '{"body":"mine"}',
                { 'Idempotency-Key' => 'k-2' });
is($st, 201, "$name - does not block the message's own key");
# the author is part of what the key promises
($st, $m) = api(POST => "tickets/$id/messages", $alice, '{"body":"mine"}',
                { 'Idempotency-Key' => 'k-2' });
is($st, 409, "$name - the same key and body from another author: 409, never the first author's message as a replay");



=== TEST 6: a foreign value at any key a change would write (a state's index, another agent's queue, the backlog) is 500 naming the key, and nothing is written
--- stored
my $alice = new_agent('alice', 5);
my ($id) = main::ticket_in('assigned', $alice);
my ($id2, $tok2) = main::ticket_in('pending', $alice);
new_agent('bob', 5);
for my $c ([ 'cs:state:solved', sub { main::status($id, $alice, 'solved') } ],
           [ 'cs:queue:bob', sub { api(POST => "tickets/$id/assign", $alice, '{"agent":null}') } ],
           [ 'cs:backlog', sub { main::message($id2, $tok2, 'reopen me') } ],
           [ 'cs:closing', sub { main::status($id, $alice, 'solved') } ]) {
    my ($key, $call) = @$c;
    my $was = $r->type($key);
    my @old = $was eq 'list' ? $r->lrange($key, 0, -1) : ();
    $r->del($key);
    $r->set($key, 'not mine');
    my $before = store();
    my ($st) = $call->();
    is($st, 500, "$name - $key foreign: 500");
    is(store(), $before, "$name - $key foreign: nothing written");
    $r->del($key);
    $r->rpush($key, @old) if @old;
}
--- error_log
cs: the key "cs:state:solved" holds a value of the wrong type
cs: the key "cs:queue:bob" holds a value of the wrong type
cs: the key "cs:backlog" holds a value of the wrong type
cs: the key "cs:closing" holds a value of the wrong type



=== TEST 7: a reopening appends two events (ticket.reopened, ticket.message): a stream that has room for one only, or a foreign value at the stream, is 500 before the first write, and nothing is written
--- stored
my $alice = new_agent('alice', 5);
my ($id, $tok) = main::ticket_in('pending', $alice);
# the last id but one of the id space: one XADD * more fits, a second
# does not
$r->xadd('cs:events', '18446744073709551615-18446744073709551614',
         'type', 'not the desk\'s');
my $before = store();
my ($st, $b) = main::message($id, $tok, 'reopen me');
is($st, 500, "$name - a stream with room for one event: 500");
is($b->{error}, 'internal_error', "$name - internal_error");
is(store(), $before, "$name - nothing written (neither event, nor the message, nor the move)");
$r->del('cs:events');
$r->set('cs:events', 'not mine');
$before = store();
($st) = main::message($id, $tok, 'reopen me');
is($st, 500, "$name - a foreign value at the stream: 500");
is(store(), $before, "$name - nothing written");
$r->del('cs:events');
($st, $b) = main::message($id, $tok, 'reopen me');
is($st, 201, "$name - the stream mended: 201");
is($b->{state}, 'assigned', "$name - reopened, back to its agent");
is_deeply([ map { $_->{type} } @{ main::events() } ], [ 'ticket.reopened', 'ticket.message' ],
          "$name - both events");
--- error_log
cs: the key "cs:events" holds a value of the wrong type
