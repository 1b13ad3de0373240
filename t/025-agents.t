# The agents' registry: an admin creates agents (their token shown once,
# only its SHA-256 stored), replaces their record, gives a new token and
# deletes them; an agent says its presence, which is also its heartbeat.
# Routing without cs_agents takes an agent online with a fresh heartbeat
# and load under capacity, as a hard limit; the backlog drains to an agent
# that comes online or gets more capacity.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;

redis_start();

our $Admin = $CsApi::Admin;

# --- stored: Perl run after each response (see t/lib/CsCheck.pm)
check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_presence_timeout 2s;
}
CONF
});

run_tests();

__DATA__

=== TEST 1: an admin creates an agent: 201 with its token, shown once; Redis keeps only the token's SHA-256; a new agent is offline
--- request eval
"PUT /api/agents/alice\n" . '{"capacity":2,"skills":["billing","shipping"]}'
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $main::Admin"
--- error_code: 201
--- response_body_like: ^\{"status":"success","agent":"alice","capacity":2,"skills":\["billing","shipping"\],"token":"a\.alice\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"\}$
--- stored
my ($token) = $body =~ /"token":"([^"]+)"/;
is($r->hget('cs:agent:alice', 'token'), Digest::SHA::sha256_hex($token),
   "$name - the SHA-256 is stored");
unlike(join(' ', $r->hvals('cs:agent:alice')), qr/\Q$token\E/,
       "$name - the token is not");
is_deeply([ $r->smembers('cs:agents') ], ['alice'], "$name - registered");
my $a = CsApi::agents_by_name()->{alice};
is_deeply($a, { name => 'alice', status => 'offline', lastSeen => undef,
                load => 0, capacity => 2, skills => ['billing', 'shipping'] },
          "$name - GET agents");
my ($st, $me) = CsApi::api(GET => 'me', $token);
is_deeply($me, { status => 'success', role => 'agent', name => 'alice' },
          "$name - the token names the agent");
($st, my $again) = CsApi::admin(PUT => 'agents/alice', '{"capacity":5}');
is($st, 200, "$name - replacing the record is 200");
ok(!exists $again->{token}, "$name - with no token");
is_deeply(CsApi::agents_by_name()->{alice}{skills}, [],
          "$name - the whole record is replaced: skills default to []");
is(CsApi::agents_by_name()->{alice}{capacity}, 5, "$name - capacity");



=== TEST 2: presence is the agent's own, and its heartbeat; an online agent under capacity takes tickets, up to its capacity and no more
--- request eval
"PUT /api/agents/bob\n" . '{"capacity":2}'
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $main::Admin"
--- error_code: 201
--- stored
my ($bob) = $body =~ /"token":"([^"]+)"/;
my (undef, $c) = CsApi::admin(PUT => 'agents/carol', '{"capacity":1}');
my $carol = $c->{token};
my ($st, $e) = CsApi::api(PUT => 'agents/bob/presence', $carol,
                         '{"status":"online"}');
is($st, 403, "$name - another agent's presence is 403");
($st) = CsApi::admin(PUT => 'agents/bob/presence', '{"status":"online"}');
is($st, 403, "$name - an admin does not set presence");
($st, my $p) = CsApi::api(PUT => 'agents/bob/presence', $bob,
                         '{"status":"online"}');
is($st, 200, "$name - the agent's own: 200");
is($p->{presence}, 'online', "$name - online");
is(CsApi::agents_by_name()->{bob}{status}, 'online', "$name - GET agents says online");
my @t = map { CsApi::intake("u$_") } 1 .. 3;
is_deeply([ map { $_->{agent} } @t ], ['bob', 'bob', undef],
          "$name - two to bob, the third waits");
is_deeply([ map { $_->{state} } @t ], ['assigned', 'assigned', 'queued'],
          "$name - states");
is(CsApi::agents_by_name()->{bob}{load}, 2, "$name - bob's load is his capacity");
is_deeply([ $r->zrange('cs:backlog', 0, -1) ], [3],
          "$name - the third is in the backlog");



=== TEST 3: the backlog drains to an agent that comes online, and to one that gets more capacity
--- request eval
"PUT /api/agents/dave\n" . '{"capacity":1}'
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $main::Admin"
--- error_code: 201
--- stored
my ($dave) = $body =~ /"token":"([^"]+)"/;
CsApi::intake("w$_") for 1 .. 3;
is($r->zcard('cs:backlog'), 3, "$name - no one online: all queued");
my ($st, $p) = CsApi::api(PUT => 'agents/dave/presence', $dave,
                         '{"status":"online"}');
is($p->{taken}, 1, "$name - coming online takes one, its capacity");
is_deeply([ $r->lrange('cs:queue:dave', 0, -1) ], [1],
          "$name - the oldest first");
is($r->hget('cs:ticket:1', 'state'), 'assigned', "$name - assigned");
is($r->hget('cs:ticket:1', 'agent'), 'dave', "$name - to dave");
CsApi::admin(PUT => 'agents/dave', '{"capacity":3}');
is_deeply([ $r->lrange('cs:queue:dave', 0, -1) ], [1, 2, 3],
          "$name - more capacity takes the rest");
is($r->zcard('cs:backlog'), 0, "$name - the backlog is empty");



=== TEST 4: a heartbeat that lapses makes the agent offline for routing and for GET agents
--- request eval
"PUT /api/agents/erin\n" . '{"capacity":5}'
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $main::Admin"
--- error_code: 201
--- stored
my ($erin) = $body =~ /"token":"([^"]+)"/;
CsApi::api(PUT => 'agents/erin/presence', $erin, '{"status":"online"}');
is(CsApi::intake('x1')->{agent}, 'erin', "$name - fresh: erin takes it");
ok(CsTest::wait_until(sub {
    CsApi::agents_by_name()->{erin}{status} eq 'offline' }, 5),
   "$name - after cs_presence_timeout erin is offline");
is(CsApi::intake('x2')->{state}, 'queued', "$name - and takes nothing new");
CsApi::api(PUT => 'agents/erin/presence', $erin, '{"status":"online"}');
is(CsApi::agents_by_name()->{erin}{status}, 'online', "$name - a heartbeat brings her back");
is($r->hget('cs:ticket:2', 'agent'), 'erin', "$name - with the backlog");



=== TEST 5: a new token replaces the old one at once; deleting an agent routes its open tickets again and its token stops working
--- request eval
"PUT /api/agents/frank\n" . '{"capacity":2}'
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $main::Admin"
--- error_code: 201
--- stored
my ($old) = $body =~ /"token":"([^"]+)"/;
my ($st, $n) = CsApi::admin(POST => 'agents/frank/token');
is($st, 201, "$name - a new token: 201");
like($n->{token}, qr/^a\.frank\./, "$name - shown once");
($st) = CsApi::api(GET => 'me', $old);
is($st, 401, "$name - the old token stops working");
($st) = CsApi::api(PUT => 'agents/frank/presence', $n->{token}, '{"status":"online"}');
is($st, 200, "$name - the new one works");
is(CsApi::intake('y1')->{agent}, 'frank', "$name - frank takes a ticket");
(undef, my $g) = CsApi::admin(PUT => 'agents/grace', '{"capacity":1}');
CsApi::api(PUT => 'agents/grace/presence', $g->{token}, '{"status":"online"}');
($st, my $d) = CsApi::admin(DELETE => 'agents/frank');
is($st, 200, "$name - deleted");
is($d->{rerouted}, 1, "$name - his ticket went to grace");
is($r->hget('cs:ticket:1', 'agent'), 'grace', "$name - in the ticket");
is($r->hget('cs:ticket:1', 'previousAgent'), 'frank', "$name - his name stays in its history");
ok(!$r->exists('cs:agent:frank'), "$name - his record is gone");
($st) = CsApi::api(GET => 'me', $n->{token});
is($st, 401, "$name - his token stops working");
($st) = CsApi::admin(DELETE => 'agents/frank');
is($st, 404, "$name - deleting him again is 404");
($st) = CsApi::admin(POST => 'agents/nobody/token');
is($st, 404, "$name - a token for no agent is 404");



=== TEST 6: only an admin manages agents; an agent's name must be a name
--- request eval
[ "PUT /api/agents/h\n{\"capacity\":1}", "PUT /api/agents/unassigned\n{\"capacity\":1}",
  "PUT /api/agents/a%20b\n{\"capacity\":1}", "GET /api/agents" ]
--- more_headers eval
[ "Content-Type: application/json",
  "Content-Type: application/json\nAuthorization: Bearer $main::Admin",
  "Content-Type: application/json\nAuthorization: Bearer $main::Admin",
  "" ]
--- error_code eval
[401, 404, 404, 401]
--- stored
is_deeply([ CsTest::redis_keys() ], [], "$name - nothing written");



=== TEST 7: with cs_agents the registry endpoints answer 409 static_agents
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
}
--- request eval
[ "PUT /api/agents/zed\n{\"capacity\":1}", "POST /api/agents/agent1/token",
  "DELETE /api/agents/agent1" ]
--- more_headers eval
[ ("Content-Type: application/json\nAuthorization: Bearer $main::Admin") x 3 ]
--- error_code eval
[409, 409, 409]
--- response_body_like eval
[ ('"error":"static_agents"') x 3 ]
--- stored
is_deeply([ CsTest::redis_keys() ], [], "$name - nothing written");



=== TEST 8: a foreign value at the event stream's key: creating an agent is 500 and writes nothing, not even the agent
--- init
CsTest::flush_redis();
CsTest::redis()->set('cs:events', 'not a stream');
--- request eval
"PUT /api/agents/ivy\n" . '{"capacity":1}'
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $main::Admin"
--- error_code: 500
--- stored
is_deeply([ CsTest::redis_keys() ], ['cs:events'], "$name - nothing written");
--- error_log
cs: the key "cs:events" holds a value of the wrong type



=== TEST 9: an agent named with a dot gets a token that works
--- request eval
"PUT /api/agents/jane.doe\n" . '{"capacity":1}'
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $main::Admin"
--- error_code: 201
--- stored
my ($token) = $body =~ /"token":"([^"]+)"/;
my ($st, $me) = CsApi::api(GET => 'me', $token);
is($st, 200, "$name - the token opens");
is($me->{name}, 'jane.doe', "$name - and names jane.doe");



=== TEST 10: a token of another role on an admin row is 403, and a customer's token on presence is 403; nothing is written
--- request eval
"PUT /api/agents/kim\n" . '{"capacity":1}'
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer $main::Admin"
--- error_code: 201
--- stored
my ($kim) = $body =~ /"token":"([^"]+)"/;
my $cust = CsApi::intake('z1')->{token};
my @keys = CsTest::redis_keys();
my ($st) = CsApi::api(PUT => 'agents/lee', $kim, '{"capacity":1}');
is($st, 403, "$name - an agent creating an agent: 403");
($st) = CsApi::api(GET => 'agents', $cust);
is($st, 403, "$name - a customer listing agents: 403");
($st) = CsApi::api(PUT => 'agents/kim/presence', $cust, '{"status":"online"}');
is($st, 403, "$name - a customer setting presence: 403");
($st) = CsApi::api(DELETE => 'agents/kim', $kim);
is($st, 403, "$name - an agent deleting itself: 403");
is_deeply([ CsTest::redis_keys() ], \@keys, "$name - nothing written");



=== TEST 11: bad agent bodies are 422 and write nothing: capacity 0, 1001, 1.5, a bad skill, 33 skills
--- request eval
[ "PUT /api/agents/mo\n{\"capacity\":0}", "PUT /api/agents/mo\n{\"capacity\":1001}",
  "PUT /api/agents/mo\n{\"capacity\":1.5}", "PUT /api/agents/mo\n{\"capacity\":1,\"skills\":[\"Bad Skill\"]}",
  "PUT /api/agents/mo\n{\"capacity\":1,\"skills\":[" . join(',', map { "\"s$_\"" } 1 .. 33) . "]}" ]
--- more_headers eval
[ ("Content-Type: application/json\nAuthorization: Bearer $main::Admin") x 5 ]
--- error_code eval
[ (422) x 5 ]
--- response_body_like eval
[ ('"error":"invalid_field"') x 5 ]
--- stored
is_deeply([ CsTest::redis_keys() ], [], "$name - nothing written");
