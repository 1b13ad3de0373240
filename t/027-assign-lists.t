# Handing tickets over (POST tickets/{id}/assign), their fields (POST
# tickets/{id}/fields), and the lists: GET tickets (by state and agent,
# paged, the backlog in its drain order) and GET agents/{name}/queue.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;

redis_start();

our $Admin = $CsApi::Admin;

sub assign { return CsApi::api(POST => "tickets/$_[0]/assign", $_[1], $_[2]) }

sub ids { return [ map { $_->{ticketId} } @{ $_[0]{tickets} || [] } ] }

check_stored_sections();

desk_blocks();

run_tests();

__DATA__

=== TEST 1: assign to a named agent: it must exist (404) and be under capacity (409 agent_at_capacity); presence is not asked; a pending ticket stays pending
--- stored
my $alice = new_agent('alice', 5);
my $bob = new_agent('bob', 1, 'offline');
my $id = intake('u1')->{ticketId};
my ($st, $b) = main::assign($id, $alice, '{"agent":"bob"}');
is($st, 200, "$name - its agent hands it to bob, offline: 200");
is_deeply($b, { status => 'success', ticketId => $id, state => 'assigned', agent => 'bob' },
          "$name - the answer");
is_deeply([ $r->lrange('cs:queue:bob', 0, -1) ], [$id], "$name - in bob's queue");
is($r->llen('cs:queue:alice'), 0, "$name - out of alice's");
is($r->hget('cs:agent:bob', 'load'), 1, "$name - bob's load");
is($r->hget('cs:agent:alice', 'load'), 0, "$name - alice's load");
my $id2 = intake('u2')->{ticketId};
my $before = store();
($st, $b) = main::assign($id2, $main::Admin, '{"agent":"bob"}');
is($st, 409, "$name - bob at capacity: 409");
is($b->{error}, 'agent_at_capacity', "$name - agent_at_capacity");
($st, $b) = main::assign($id2, $main::Admin, '{"agent":"zoe"}');
is($st, 404, "$name - no such agent: 404");
($st, $b) = main::assign($id2, $main::Admin, '{"agent":"alice"}');
is($st, 409, "$name - to the agent it has: 409");
is($b->{error}, 'invalid_transition', "$name - invalid_transition");
($st, $b) = main::assign($id2, $bob, '{"agent":"bob"}');
is($st, 403, "$name - an agent on a ticket not its own: 403");
($st, $b) = main::assign($id2, $main::Admin, '{"agent":"a b"}');
is($st, 422, "$name - a body naming no possible agent: 422");
($st, $b) = main::assign($id2, $main::Admin, '{}');
is($st, 422, "$name - no agent field: 422");
is(store(), $before, "$name - none of them wrote anything");
# pending stays pending, and is not load
api(POST => "tickets/$id2/status", $alice, '{"state":"pending"}');
my $carol = new_agent('carol', 1);
intake('u3');   # carol is full now
($st, $b) = main::assign($id2, $main::Admin, '{"agent":"carol"}');
is($st, 409, "$name - a full agent takes no pending ticket either");
main::assign($id, $main::Admin, '{"agent":"alice"}');    # bob has room again
($st, $b) = main::assign($id2, $alice, '{"agent":"bob"}');
is($b->{state}, 'pending', "$name - pending stays pending");
is($r->hget('cs:agent:bob', 'load'), 0, "$name - and is not bob's load");
is_deeply([ $r->lrange('cs:queue:bob', 0, -1) ], [$id2], "$name - but his open ticket");



=== TEST 2: assign null: back to routing, never to the agent that let it go, not even when its capacity drains the backlog
--- stored
my $alice = new_agent('alice', 5);
my $id = intake('u1')->{ticketId};
my $before = store();
my ($st, $b) = main::assign($id, $alice, '{"agent":null}');
is($st, 200, "$name - 200");
is($b->{state}, 'queued', "$name - alice is the only one: queued");
is($b->{agent}, undef, "$name - no agent");
is($r->hget("cs:ticket:$id", 'previousAgent'), 'alice', "$name - who let it go");
is($r->hget('cs:agent:alice', 'load'), 0, "$name - alice's load freed");
api(PUT => 'agents/alice', $main::Admin, '{"capacity":6}');   # a drain
is($r->hget("cs:ticket:$id", 'state'), 'queued', "$name - a drain to alice does not take it back");
my $id2 = intake('u2')->{ticketId};
is($r->hget("cs:ticket:$id2", 'agent'), 'alice', "$name - she takes new work");
my $bob = new_agent('bob', 5);
is($r->hget("cs:ticket:$id", 'agent'), 'bob', "$name - bob coming online takes it");
($st, $b) = main::assign($id2, $alice, '{"agent":null}');
is($b->{agent}, 'bob', "$name - let go with bob online: bob");
my $id3 = intake('u3')->{ticketId};
api(PUT => "agents/alice/presence", $alice, '{"status":"away"}');
api(PUT => "agents/bob/presence", $bob, '{"status":"away"}');
($st, $b) = main::assign($id3, $main::Admin, '{"agent":null}');
is($b->{state}, 'queued', "$name - back to routing with no one: queued");
$before = store();
($st, $b) = main::assign($id3, $main::Admin, '{"agent":null}');
is($st, 409, "$name - a queued ticket is already with routing: 409");
is(store(), $before, "$name - nothing written");
($st, $b) = main::assign($id3, $main::Admin, '{"agent":"alice"}');
is($b->{state}, 'assigned', "$name - an admin may hand it to anyone by name");



=== TEST 3: fields: priority and category while open; null removes the category; {} is 422; a solved ticket is 409; nothing written on a refusal
--- stored
my $alice = new_agent('alice', 5);
my $id = intake('u1', category => 'billing')->{ticketId};
my ($st, $b) = api(POST => "tickets/$id/fields", $alice, '{"priority":"urgent"}');
is($st, 200, "$name - 200");
is_deeply($b, { status => 'success', ticketId => $id, state => 'assigned', agent => 'alice',
                priority => 'urgent', category => 'billing' }, "$name - the answer");
is($r->hget("cs:ticket:$id", 'priority'), 'urgent', "$name - stored");
($st, $b) = api(POST => "tickets/$id/fields", $main::Admin, '{"category":null}');
is($b->{category}, undef, "$name - null: no category");
ok(!$r->hexists("cs:ticket:$id", 'category'), "$name - removed");
my $before = store();
for my $c ([ '{}', 422, 'missing_field' ], [ '{"priority":"asap"}', 422, 'invalid_field' ],
           [ '{"category":"Not A Category"}', 422, 'invalid_field' ],
           [ '{"state":"closed"}', 422, 'unknown_field' ]) {
    ($st, $b) = api(POST => "tickets/$id/fields", $alice, $c->[0]);
    is($st, $c->[1], "$name - $c->[0]: $c->[1]");
    is($b->{error}, $c->[2], "$name - $c->[0]: $c->[2]");
}
my $bob = new_agent('bob', 5, 'away');
$before = store();
($st) = api(POST => "tickets/$id/fields", $bob, '{"priority":"low"}');
is($st, 403, "$name - another agent: 403");
api(POST => "tickets/$id/status", $alice, '{"state":"solved"}');
my $solved = store();
($st, $b) = api(POST => "tickets/$id/fields", $alice, '{"priority":"low"}');
is($st, 409, "$name - solved: 409");
is(store(), $solved, "$name - nothing written");



=== TEST 4: GET tickets: by state and agent, paged by cursor; the backlog in its drain order; an agent lists its own; bad arguments are 422
--- stored
my $alice = new_agent('alice', 2);
my @t = map { intake("u$_")->{ticketId} } 1 .. 5;   # 2 to alice, 3 queued
my ($st, $b) = api(GET => 'tickets?limit=2', $main::Admin);
is($st, 200, "$name - 200");
is_deeply(main::ids($b), [1, 2], "$name - the first page, oldest first");
ok($b->{cursor}, "$name - a cursor");
(undef, my $b2) = api(GET => "tickets?limit=2&cursor=$b->{cursor}", $main::Admin);
is_deeply(main::ids($b2), [3, 4], "$name - the second page");
(undef, my $b3) = api(GET => "tickets?limit=2&cursor=$b2->{cursor}", $main::Admin);
is_deeply(main::ids($b3), [5], "$name - the last page");
is($b3->{cursor}, undef, "$name - ends with no cursor");
(undef, $b) = api(GET => 'tickets?state=queued', $main::Admin);
is_deeply(main::ids($b), [3, 4, 5], "$name - the backlog, in drain order");
is($b->{tickets}[0]{state}, 'queued', "$name - each with its state");
(undef, $b) = api(GET => 'tickets?state=queued&limit=1&cursor=1', $main::Admin);
is_deeply(main::ids($b), [4], "$name - the backlog paged");
(undef, $b) = api(GET => 'tickets?state=assigned&agent=alice', $main::Admin);
is_deeply(main::ids($b), [1, 2], "$name - by state and agent");
(undef, $b) = api(GET => 'tickets', $alice);
is_deeply(main::ids($b), [1, 2], "$name - an agent: its own");
($st) = api(GET => 'tickets?agent=bob', $alice);
is($st, 403, "$name - another agent's: 403");
my $cust = intake('u9')->{token};
($st) = api(GET => 'tickets', $cust);
is($st, 403, "$name - a customer: 403");
for my $q ('limit=0', 'limit=101', 'limit=x', 'state=open', 'cursor=abc', 'agent=a%20b') {
    ($st, $b) = api(GET => "tickets?$q", $main::Admin);
    is($st, 422, "$name - $q: 422");
    is($b->{error}, 'invalid_field', "$name - $q: invalid_field");
}
api(POST => "tickets/1/status", $alice, '{"state":"solved"}');
(undef, $b) = api(GET => 'tickets?state=solved', $main::Admin);
is_deeply(main::ids($b), [1], "$name - solved");
(undef, $b) = api(GET => 'tickets?agent=alice&limit=1', $main::Admin);
is_deeply(main::ids($b), [1], "$name - an agent's tickets of any state, paged");
(undef, $b) = api(GET => "tickets?agent=alice&limit=5&cursor=$b->{cursor}", $main::Admin);
is_deeply(main::ids($b), [2, 3], "$name - the drained ticket too");



=== TEST 5: GET agents/{name}/queue: the agent's open tickets, assigned first, each by priority then age; for that agent and admins
--- stored
my $alice = new_agent('alice', 10);
my $low = intake('u1', priority => 'low')->{ticketId};
my $urgent = intake('u2', priority => 'urgent')->{ticketId};
my $normal = intake('u3')->{ticketId};
my $urgent2 = intake('u4', priority => 'urgent')->{ticketId};
api(POST => "tickets/$urgent/status", $alice, '{"state":"pending"}');
my ($st, $b) = api(GET => 'agents/alice/queue', $alice);
is($st, 200, "$name - 200");
is_deeply(main::ids($b), [$urgent2, $normal, $low, $urgent], "$name - assigned by priority, then pending");
(undef, $b) = api(GET => 'agents/alice/queue?limit=2', $main::Admin);
is_deeply(main::ids($b), [$urgent2, $normal], "$name - an admin, paged");
(undef, $b) = api(GET => "agents/alice/queue?limit=2&cursor=$b->{cursor}", $main::Admin);
is_deeply(main::ids($b), [$low, $urgent], "$name - the next page");
my $bob = new_agent('bob', 1, 'away');
($st) = api(GET => 'agents/alice/queue', $bob);
is($st, 403, "$name - another agent: 403");
($st) = api(GET => 'agents/nobody/queue', $main::Admin);
is($st, 404, "$name - no such agent: 404");



=== TEST 6: with cs_agents, admins act on tickets for the static agents: assign by name among them, null to another of them, read their queues (a name not listed is 404), solve; no registry record is made
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
}
--- stored
my $id = intake('u1')->{ticketId};
is($r->hget("cs:ticket:$id", 'agent'), 'agent1', "$name - v1's round robin");
my ($st, $b) = main::assign($id, $main::Admin, '{"agent":"agent2"}');
is($b->{agent}, 'agent2', "$name - to agent2 by name");
is_deeply([ $r->lrange('cs:queue:agent2', 0, -1) ], [$id], "$name - its queue");
is($r->llen('cs:queue:agent1'), 0, "$name - out of agent1's");
($st, $b) = main::assign($id, $main::Admin, '{"agent":"agent3"}');
is($st, 404, "$name - not one of cs_agents: 404");
($st, $b) = api(GET => 'agents/agent2/queue', $main::Admin);
is($st, 200, "$name - a static agent's queue");
is_deeply([ map { $_->{ticketId} } @{ $b->{tickets} } ], [$id],
          "$name - holds its ticket");
($st, $b) = api(GET => 'agents/agent3/queue', $main::Admin);
is($st, 404, "$name - the queue of a name cs_agents does not list: 404");
is($b->{error}, 'not_found', "$name - not_found");
($st, $b) = main::assign($id, $main::Admin, '{"agent":null}');
is($b->{agent}, 'agent1', "$name - null: the other one");
($st, $b) = api(POST => "tickets/$id/status", $main::Admin, '{"state":"solved"}');
is($b->{state}, 'solved', "$name - solved");
is($r->llen('cs:queue:agent1'), 0, "$name - out of the queue");
is_deeply([ grep { /agent:/ } $r->keys('*') ], [], "$name - no registry record");



=== TEST 7: the agent that let a ticket go takes it again from the backlog once the ticket has been placed since (reopened after a solve)
--- stored
my $a = new_agent('ann', 1);
my $t = intake('u1');
my $id = $t->{ticketId};
main::assign($id, $main::Admin, '{"agent":null}');
is($r->hget("cs:ticket:$id", 'releasedBy'), 'ann', "$name - let go by ann: waits, not for her");
main::assign($id, $main::Admin, '{"agent":"ann"}');
ok(!$r->hexists("cs:ticket:$id", 'releasedBy'), "$name - placed again: the mark is gone");
is($r->hget("cs:ticket:$id", 'previousAgent'), 'ann', "$name - previousAgent stays as history");
api(POST => "tickets/$id/status", $a, '{"state":"solved"}');
api(PUT => 'agents/ann/presence', $a, '{"status":"offline"}');
my ($st, $m) = api(POST => "tickets/$id/messages", $t->{token}, '{"body":"again"}');
is($m->{state}, 'queued', "$name - reopened with ann offline: queued");
my (undef, $p) = api(PUT => 'agents/ann/presence', $a, '{"status":"online"}');
is($p->{taken}, 1, "$name - ann back online drains it to her");
is($r->hget("cs:ticket:$id", 'agent'), 'ann', "$name - hers");
invariants_hold($name);



=== TEST 8: a drain looks past tickets the agent may not take: 100 waiting tickets of another category do not hide the one it may
--- stored
my ($st, $b) = admin(PUT => 'agents/bil', '{"capacity":2,"skills":["billing"]}');
intake("t$_", category => 'tech') for 1 .. 110;
my $bill = intake('b1', category => 'billing')->{ticketId};
my (undef, $p) = api(PUT => 'agents/bil/presence', $b->{token}, '{"status":"online"}');
is($p->{taken}, 1, "$name - the billing ticket, behind 110 others, is drained");
is($r->hget("cs:ticket:$bill", 'agent'), 'bil', "$name - to bil");
is($r->zcard('cs:backlog'), 110, "$name - the others wait");
