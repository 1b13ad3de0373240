# Routing by skills and for returning customers (DESIGN §Routing): a
# ticket of a category goes to an eligible agent that lists it, else to
# one that lists no skills, else it waits; an agent that lists other
# skills never takes it, not even from the backlog.  A returning
# customer's ticket goes to the agent of the user's latest ticket within
# cs_sticky when that agent may take it.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;

redis_start();

our $Admin = $CsApi::Admin;

sub skilled_agent {
    my ($name, $skills, $status) = @_;
    my ($st, $b) = CsApi::admin(PUT => "agents/$name",
                                qq({"capacity":10,"skills":[$skills]}));
    die "PUT agents/$name: $st\n" unless $st == 201;
    CsApi::api(PUT => "agents/$name/presence", $b->{token},
               '{"status":"' . ($status // 'online') . '"}');
    return $b->{token};
}

sub presence { CsApi::api(PUT => "agents/$_[0]/presence", $_[1], qq({"status":"$_[2]"})) }

check_stored_sections();

desk_blocks();

run_tests();

__DATA__

=== TEST 1: skills: a category's agent first; else an agent without skills; else the backlog; an agent with other skills never takes it
--- stored
my $billing = main::skilled_agent('bea', '"billing"');
my $shipping = main::skilled_agent('sam', '"shipping"');
my $general = main::skilled_agent('gus', '');
is(intake('u1', category => 'billing')->{agent}, 'bea', "$name - billing to bea");
is(intake('u2', category => 'shipping')->{agent}, 'sam', "$name - shipping to sam");
is(intake('u3', category => 'account')->{agent}, 'gus', "$name - a category no one lists: the agent without skills");
main::presence('bea', $billing, 'away');
is(intake('u4', category => 'billing')->{agent}, 'gus', "$name - bea away: the agent without skills");
main::presence('gus', $general, 'away');
my $t = intake('u5', category => 'billing');
is($t->{state}, 'queued', "$name - no billing agent, no agent without skills: queued, though sam is online");
is($r->llen('cs:queue:sam'), 1, "$name - sam took nothing more");
my $a = intake('u6');
is($a->{agent}, 'sam', "$name - a ticket without a category goes to any eligible agent");
main::presence('sam', $shipping, 'online');
is($r->hget("cs:ticket:$t->{ticketId}", 'state'), 'queued', "$name - sam's heartbeat does not drain a billing ticket to him");
main::presence('bea', $billing, 'online');
is($r->hget("cs:ticket:$t->{ticketId}", 'agent'), 'bea', "$name - bea back: the backlog drains to her");
invariants_hold($name);



=== TEST 2: a returning customer goes to the agent of its latest ticket within cs_sticky, unless that agent is offline or at capacity
--- stored
my $alice = new_agent('alice', 2);
my $bob = new_agent('bob', 5);
my $first = intake('ret');
is($first->{agent}, 'alice', "$name - the first ticket: alice (never assigned, then the name)");
my $other = intake('someone');
is($other->{agent}, 'bob', "$name - round robin: bob next");
is(intake('ret')->{agent}, 'alice', "$name - the returning customer: alice again, though round robin says bob... ");
is(intake('ret2')->{agent}, 'bob', "$name - ...as it does for a new customer");
# alice is at capacity (2)
is(intake('ret')->{agent}, 'bob', "$name - alice at capacity: bob");
main::presence('alice', $alice, 'offline');
api(POST => "tickets/1/status", $alice, '{"state":"solved"}');
is(intake('ret')->{agent}, 'bob', "$name - alice offline: bob");



=== TEST 3: cs_sticky off: a returning customer is routed like any other
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_sticky off;
}
--- stored
new_agent('alice', 5);
new_agent('bob', 5);
is(intake('ret')->{agent}, 'alice', "$name - alice first");
is(intake('ret')->{agent}, 'bob', "$name - then bob, round robin");



=== TEST 4: the backlog drains by priority, then age: a low ticket waits behind two urgent ones that came after it; a changed priority moves a waiting ticket
--- stored
my $low = intake('b1', priority => 'low')->{ticketId};
my $u1 = intake('b2', priority => 'urgent')->{ticketId};
my $n = intake('b3')->{ticketId};
my $u2 = intake('b4', priority => 'urgent')->{ticketId};
is_deeply([ $r->zrange('cs:backlog', 0, -1) ], [$u1, $u2, $n, $low], "$name - cs:backlog in drain order");
my (undef, $b) = api(GET => 'tickets?state=queued', $main::Admin);
is_deeply([ map { $_->{ticketId} } @{ $b->{tickets} } ], [$u1, $u2, $n, $low], "$name - GET tickets?state=queued in the same order");
api(POST => "tickets/$low/fields", $main::Admin, '{"priority":"high"}');
is_deeply([ $r->zrange('cs:backlog', 0, -1) ], [$u1, $u2, $low, $n], "$name - low made high moves ahead of normal, behind the urgent ones");
my $alice = new_agent('alice', 1);
is_deeply([ $r->lrange('cs:queue:alice', 0, -1) ], [$u1], "$name - coming online takes the first urgent one");
api(PUT => 'agents/alice', $main::Admin, '{"capacity":3}');
is_deeply([ $r->lrange('cs:queue:alice', 0, -1) ], [$u1, $u2, $low], "$name - more capacity: the next urgent one, then the high one");
api(POST => "tickets/$u1/status", $alice, '{"state":"solved"}');
is_deeply([ $r->lrange('cs:queue:alice', 0, -1) ], [$u2, $low, $n], "$name - a solve drains the last one");
is($r->zcard('cs:backlog'), 0, "$name - the backlog is empty");
invariants_hold($name);



=== TEST 5: tie-breaks: round_robin takes the oldest last assignment (never assigned first, then the name); least_loaded the most spare capacity, then the oldest last assignment
--- stored
new_agent('cy', 5);
new_agent('al', 5);
new_agent('bo', 5);
is_deeply([ map { intake("t$_")->{agent} } 1 .. 4 ], [qw(al bo cy al)],
          "$name - round_robin: never assigned in name order, then the oldest last assignment");
invariants_hold($name);



=== TEST 6: least_loaded: the most spare capacity first; equal spare capacity goes to the oldest last assignment, then the name
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_assign least_loaded;
}
--- stored
new_agent('big', 4);
new_agent('small', 2);
# spare: big 4, small 2 -> big; then big 3, small 2 -> big; then 2 and 2:
# small was never assigned, so it is the older -> small; then big 2 vs
# small 1 -> big; then 1 and 1: small's last assignment is older -> small
is_deeply([ map { intake("l$_")->{agent} } 1 .. 5 ], [qw(big big small big small)],
          "$name - spare capacity, then the oldest last assignment");
invariants_hold($name);



=== TEST 7: a waiting ticket whose category changes is routed again: an agent the skills rule kept from it takes it at once
--- stored
my $sam = main::skilled_agent('sam', '"shipping"');
my $t = intake('c1', category => 'billing');
is($t->{state}, 'queued', "$name - billing, and only a shipping agent: queued");
my ($st, $b) = api(POST => "tickets/$t->{ticketId}/fields", $main::Admin, '{"category":"shipping"}');
is($st, 200, "$name - 200");
is($b->{state}, 'assigned', "$name - now shipping: assigned");
is($b->{agent}, 'sam', "$name - to sam");
is($r->zcard('cs:backlog'), 0, "$name - out of the backlog");
invariants_hold($name);
