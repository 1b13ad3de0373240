# Idempotency-Key: a retry with the same key and the same ticket gets the
# same answer and stores nothing new, for 24 h; the same key with another
# ticket is a 409; a malformed key is a 400.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;

redis_start();

our $Created1 = '{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}';
our $Created2 = '{"status":"success","message":"Request received and processed.","ticketId":2,"agent":"agent2","state":"assigned"}';
our $Reused = '{"status":"error","error":"idempotency_key_reused","message":"this Idempotency-Key was used for a different ticket"}';
our $BadKey = '{"status":"error","error":"invalid_idempotency_key","message":"Idempotency-Key must be one header of 1 to 128 printable ASCII characters"}';

sub list { my ($r, $key) = @_; return [ $r->lrange($key, 0, -1) ] }

sub nevents { my ($r, $key) = @_; return $r->xlen($key // 'cs:events') }

# one ticket, one queue entry, one history entry, one event, one turn
sub one_ticket_only {
    my ($name, $r) = @_;
    is($r->get('cs:ticket:seq'), 1, "$name - seq unchanged");
    is_deeply([ sort $r->keys('cs:ticket:*') ],
              ['cs:ticket:1', 'cs:ticket:1:events', 'cs:ticket:seq'],
              "$name - one ticket hash (and its events index)");
    is_deeply(list($r, 'cs:queue:agent1'), [1], "$name - queued once");
    is_deeply([ sort $r->keys('cs:queue:*') ], ['cs:queue:agent1'],
              "$name - no other queue");
    is(nevents($r), 1, "$name - one event");
    is($r->get('cs:route:rr'), 1, "$name - one round-robin turn");
}

# the key lives about 24 h
sub idem_ttl_ok {
    my ($name, $r, $key) = @_;
    my $pttl = $r->pttl($key);
    ok($pttl > 86000000 && $pttl <= 86400000, "$name - $key lives 24 h")
        or diag("PTTL $key: $pttl");
}

# --- stored: Perl run after each response (see t/lib/CsCheck.pm)
check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2 agent3;
}
CONF

    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;

    $block->set_value('more_headers', <<'HDR')
Content-Type: application/json
Idempotency-Key: order-42
HDR
        unless defined $block->more_headers;

    $block->set_value('no_error_log', '[error]')
        unless defined $block->error_log || defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: the same ticket written three ways is one ticket with one answer
--- request eval
[ qq{POST /api/service\n{"userId":"u1","issue":"lost parcel","category":"delivery"}},
  qq{POST /api/service\n{ "category" : "delivery",\n  "issue":"lost parcel",\t"userId": "u1",\n  "priority":"normal", "channel":"api" }},
  qq{POST /api/service\n{"issue":"lost\\u0020parcel","channel":"api","userId":"\\u0075\\u0031","category":"delivery"}} ]
--- error_code eval
[201, 201, 201]
--- response_body eval
[ $main::Created1, $main::Created1, $main::Created1 ]
--- response_headers eval
[ ("Content-Type: application/json") x 3 ]
--- stored
one_ticket_only($name, $r);
is($r->hget('cs:ticket:1', 'issue'), 'lost parcel', "$name - the first ticket");
is_deeply([ user_tickets('u1') ], [1], "$name - history once"); # by HMAC
is_deeply([ $r->keys('cs:idem:*') ], ['cs:idem:order-42'], "$name - one key");
idem_ttl_ok($name, $r, 'cs:idem:order-42');



=== TEST 2: the same key with another ticket is a 409, and the key keeps its ticket
--- request eval
[ qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}},
  qq{POST /api/service\n{"userId":"u1","issue":"lost parcel!"}},
  qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}} ]
--- error_code eval
[201, 409, 201]
--- response_body eval
[ $main::Created1, $main::Reused, $main::Created1 ]
--- response_headers eval
[ ("Content-Type: application/json") x 3 ]
--- stored
one_ticket_only($name, $r);
is($r->hget('cs:ticket:1', 'issue'), 'lost parcel', "$name - not overwritten");
idem_ttl_ok($name, $r, 'cs:idem:order-42');



=== TEST 3: every field counts: each difference is a 409
--- request eval
[ qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}},
  qq{POST /api/service\n{"userId":"u2","issue":"lost parcel"}},
  qq{POST /api/service\n{"userId":"u1","issue":"lost parcel","category":"delivery"}},
  qq{POST /api/service\n{"userId":"u1","issue":"lost parcel","priority":"low"}},
  qq{POST /api/service\n{"userId":"u1","issue":"lost parcel","channel":"web"}},
  qq{POST /api/service\n{"userId":"u1","issue":"lost parcel","email":"u1\@example.com"}},
  qq{POST /api/service\n{"userId":"u1","issue":"lost parcel "}},
  qq{POST /api/service\n{"userId":"u1","issue":"Lost parcel"}} ]
--- error_code eval
[201, (409) x 7]
--- response_body eval
[ $main::Created1, ($main::Reused) x 7 ]
--- stored
one_ticket_only($name, $r);
# privacy: u1's keys are named by the HMAC of its id: its history and the
# record that holds its event id
is_deeply([ sort $r->keys('cs:user:*') ],
          [ sort map { 'cs:user:' . user_key('u1') . $_ } ':tickets', '' ],
          "$name - no history for u2");



=== TEST 4: different keys make different tickets
--- more_headers eval
[ "Content-Type: application/json\nIdempotency-Key: k-1",
  "Content-Type: application/json\nIdempotency-Key: k-2",
  "Content-Type: application/json\nIdempotency-Key: k-1",
  "Content-Type: application/json\nIdempotency-Key: k-2" ]
--- request eval
[ (qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}}) x 4 ]
--- error_code eval
[201, 201, 201, 201]
--- response_body eval
[ $main::Created1, $main::Created2, $main::Created1, $main::Created2 ]
--- stored
if ($req_idx == 3) {
    is($r->get('cs:ticket:seq'), 2, "$name - two tickets");
    is_deeply(list($r, 'cs:queue:agent1'), [1], "$name - agent1");
    is_deeply(list($r, 'cs:queue:agent2'), [2], "$name - agent2");
    is_deeply([ user_tickets('u1') ], [1, 2], "$name - history"); # HMAC
    is(nevents($r), 2, "$name - two events");
    is_deeply([ sort $r->keys('cs:idem:*') ], ['cs:idem:k-1', 'cs:idem:k-2'],
              "$name - two keys");
    idem_ttl_ok($name, $r, 'cs:idem:k-2');
}



=== TEST 5: without a key the same body twice is two tickets
--- more_headers
Content-Type: application/json
--- request eval
[ (qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}}) x 2 ]
--- error_code eval
[201, 201]
--- response_body eval
[ $main::Created1, $main::Created2 ]
--- stored
is($r->get('cs:ticket:seq'), $req_idx + 1, "$name - a new ticket");
is_deeply([ $r->keys('cs:idem:*') ], [], "$name - no idempotency key");



=== TEST 6: a replay takes no round-robin turn
--- more_headers eval
[ "Content-Type: application/json\nIdempotency-Key: r-1",
  "Content-Type: application/json\nIdempotency-Key: r-1",
  "Content-Type: application/json" ]
--- request eval
[ (qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}}) x 3 ]
--- error_code eval
[201, 201, 201]
--- response_body eval
[ $main::Created1, $main::Created1, $main::Created2 ]
--- stored
if ($req_idx == 2) {
    is($r->get('cs:route:rr'), 2, "$name - two turns");
    is_deeply(list($r, 'cs:queue:agent2'), [2], "$name - agent2");
}



=== TEST 7: a replay of a queued ticket answers agent null, queued
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
--- request eval
[ (qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}}) x 2 ]
--- error_code eval
[201, 201]
--- response_body eval
[ ('{"status":"success","message":"Request received and processed.","ticketId":1,"agent":null,"state":"queued"}') x 2 ]
--- stored
# v2: the backlog is the sorted set cs:backlog (v1: cs:queue:unassigned)
is_deeply([ $r->zrange('cs:backlog', 0, -1) ], [1], "$name - queued once");
is(nevents($r), 1, "$name - one event");



=== TEST 8: once the key has expired, the same key makes a new ticket
--- request eval
[ (qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}}) x 2 ]
--- error_code eval
[201, 201]
--- response_body eval
[ $main::Created1, $main::Created2 ]
--- stored
if ($req_idx == 0) {
    # what 24 h would do
    $r->pexpire('cs:idem:order-42', 1);
    ok(wait_until(sub { !redis()->exists('cs:idem:order-42') }, 5),
       "$name - the key expired");
} else {
    is($r->get('cs:ticket:seq'), 2, "$name - a second ticket");
    idem_ttl_ok($name, $r, 'cs:idem:order-42');
}



=== TEST 9: keys live under cs_key_prefix, one desk's key is not another's
--- config
location = /a {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2 agent3;
    cs_key_prefix deskA:;
}
location = /b {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2 agent3;
    cs_key_prefix deskB:;
}
--- request eval
[ qq{POST /a\n{"userId":"u1","issue":"lost parcel"}},
  qq{POST /b\n{"userId":"u1","issue":"broken screen"}},
  qq{POST /a\n{"userId":"u1","issue":"lost parcel"}} ]
--- error_code eval
[201, 201, 201]
--- response_body eval
[ ($main::Created1) x 3 ]
--- stored
if ($req_idx == 2) {
    is_deeply([ sort $r->keys('*idem*') ],
              ['deskA:idem:order-42', 'deskB:idem:order-42'],
              "$name - one key per prefix");
    idem_ttl_ok($name, $r, 'deskA:idem:order-42');
    is($r->get('deskA:ticket:seq'), 1, "$name - one ticket at A");
    is($r->get('deskB:ticket:seq'), 1, "$name - one ticket at B");
    is($r->hget('deskB:ticket:1', 'issue'), 'broken screen', "$name - B's");
}



=== TEST 10: any printable ASCII up to 128 characters is a key
--- more_headers eval
[ "Content-Type: application/json\nIdempotency-Key: order 42/retry#1:\"x\"~",
  "Content-Type: application/json\nIdempotency-Key: order 42/retry#1:\"x\"~",
  "Content-Type: application/json\nIdempotency-Key: " . ('k' x 128),
  "Content-Type: application/json\nIdempotency-Key: " . ('k' x 128) ]
--- request eval
[ (qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}}) x 4 ]
--- error_code eval
[201, 201, 201, 201]
--- response_body eval
[ $main::Created1, $main::Created1, $main::Created2, $main::Created2 ]
--- stored
if ($req_idx == 3) {
    is_deeply([ sort $r->keys('cs:idem:*') ],
              [ 'cs:idem:' . ('k' x 128), 'cs:idem:order 42/retry#1:"x"~' ],
              "$name - the keys as sent");
    is($r->get('cs:ticket:seq'), 2, "$name - two tickets");
}



=== TEST 11: a malformed key is a 400 and stores nothing
--- more_headers eval
[ "Content-Type: application/json\nIdempotency-Key:",
  "Content-Type: application/json\nIdempotency-Key: " . ('k' x 129),
  "Content-Type: application/json\nIdempotency-Key: caf\xc3\xa9",
  "Content-Type: application/json\nIdempotency-Key: a\tb",
  "Content-Type: application/json\nIdempotency-Key: a\x7fb",
  "Content-Type: application/json\nIdempotency-Key: k-1\nIdempotency-Key: k-1" ]
--- request eval
[ (qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}}) x 6 ]
--- error_code eval
[ (400) x 6 ]
--- response_body eval
[ ($main::BadKey) x 6 ]
--- stored
is_deeply([ $r->keys('*') ], [], "$name - nothing stored");



=== TEST 12: the key's form is checked before the body's syntax
--- more_headers eval
"Content-Type: application/json\nIdempotency-Key: " . ('k' x 129)
--- request
POST /api/service
{"userId":
--- error_code: 400
--- response_body eval
$main::BadKey
--- stored
is_deeply([ $r->keys('*') ], [], "$name - nothing stored");



=== TEST 13: a replay with a body at fault is a 422, not a replay nor a 409
--- request eval
[ qq{POST /api/service\n{"userId":"u1","issue":"lost parcel"}},
  qq{POST /api/service\n{"userId":"u1"}},
  qq{POST /api/service\n{"userId":"u1","issue":"lost parcel","priority":"asap"}} ]
--- error_code eval
[201, 422, 422]
--- response_body_like eval
[ '"ticketId":1,', '"error":"missing_field"', '"error":"invalid_field"' ]
--- stored
one_ticket_only($name, $r);
