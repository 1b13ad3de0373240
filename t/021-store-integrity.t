# What Redis holds is never half written or merged, and what comes back
# from Redis never makes a broken answer:
# - an id the sequence hands out again (a Redis that lost its last writes)
#   moves past the existing ticket instead of writing into it;
# - a key of the wrong type under the prefix is found before any write:
#   500 internal_error, one log line naming the key, nothing stored;
# - a stored value that is not UTF-8 turns the answer into a 500, never a
#   broken 201 body;
# - a 422 carries its reason phrase.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use Digest::SHA qw(sha1_hex);

redis_start();

# --- stored: Perl run after each response (see t/lib/CsCheck.pm)
check_stored_sections();

# the intake script's digest of a ticket, for a hand-made idempotency record
sub digest {
    my (%t) = @_;
    my @parts = map { length($_) . ':' . $_ }
        map { $t{$_} // '' } qw(userId issue category priority channel email);
    return sha1_hex(join ',', @parts);
}

# every key the intake writes, apart from the ones a test seeded (u1's
# history is named by the HMAC of its id: privacy)
sub intake_keys {
    my ($r) = @_;
    my $history = 'cs:user:' . user_key('u1') . ':tickets';
    return [ sort grep { $_ ne 'cs:events' && $_ ne $history }
             $r->keys('cs:*') ];
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
CONF
});

run_tests();

__DATA__

=== TEST 1: an id that is handed out again moves past the existing ticket, which stays as it was
--- init
CsTest::flush_redis();
CsTest::redis()->hset('cs:ticket:1', 'id', 1, 'userId', 'old', 'issue',
    'old issue', 'email', 'old@example.com', 'category', 'billing',
    'agent', 'agent9', 'state', 'assigned');
--- request
POST /api/service
{"userId":"new","issue":"a fresh ticket"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body chop
{"status":"success","message":"Request received and processed.","ticketId":2,"agent":"agent1","state":"assigned"}
--- stored
my %old = $r->hgetall('cs:ticket:1');
is_deeply(\%old, { id => 1, userId => 'old', issue => 'old issue',
                   email => 'old@example.com', category => 'billing',
                   agent => 'agent9', state => 'assigned' },
          "$name - the old ticket is untouched");
my %new = $r->hgetall('cs:ticket:2');
is($new{userId}, 'new', "$name - the new ticket has its own user");
ok(!exists $new{email} && !exists $new{category},
   "$name - nothing of the old ticket leaked into the new one");
is($r->get('cs:ticket:seq'), 2, "$name - the sequence moved past it");
is_deeply([ $r->lrange('cs:queue:agent1', 0, -1) ], [2],
          "$name - only the new ticket is queued");



=== TEST 2: a run of taken ids is skipped; no ticket hash is written twice
--- init
CsTest::flush_redis();
my $r = CsTest::redis();
$r->hset("cs:ticket:$_", 'id', $_, 'userId', "old$_", 'issue', 'old')
    for 1 .. 5;
--- request
POST /api/service
{"userId":"new","issue":"after a lost sequence"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like: ^\{"status":"success","message":"Request received and processed\.","ticketId":(?:[6-9]|\d\d),"agent":"agent1","state":"assigned"\}$
--- stored
my ($id) = $body =~ /"ticketId":(\d+)/;
is($r->get('cs:ticket:seq'), $id, "$name - the sequence is at the new id");
is($r->hget("cs:ticket:$_", 'userId'), "old$_", "$name - ticket $_ untouched")
    for 1 .. 5;
is($r->hget("cs:ticket:$id", 'userId'), 'new', "$name - the new ticket");



=== TEST 3: cs:events holding a string: 500 internal_error, one log line naming the key, nothing written
--- init
CsTest::flush_redis();
CsTest::redis()->set('cs:events', 'not a stream');
--- request
POST /api/service
{"userId":"u1","issue":"where do I go?"}
--- more_headers
Content-Type: application/json
--- error_code: 500
--- response_body chop
{"status":"error","error":"internal_error","message":"internal error"}
--- stored
is_deeply(main::intake_keys($r), [], "$name - nothing else was written");
is($r->get('cs:events'), 'not a stream', "$name - the foreign key is as it was");
--- error_log
cs: the key "cs:events" holds a value of the wrong type; nothing was written
--- no_error_log
[alert]



=== TEST 4: a user's history key of the wrong type is named without the user id, and nothing is written
--- init
CsTest::flush_redis();
# privacy: the history is named by the HMAC of the userId
CsTest::redis()->set('cs:user:' . CsTest::user_key('u1') . ':tickets',
                     'not a list');
--- request
POST /api/service
{"userId":"u1","issue":"my history is odd"}
--- more_headers
Content-Type: application/json
--- error_code: 500
--- response_body chop
{"status":"error","error":"internal_error","message":"internal error"}
--- stored
is_deeply(main::intake_keys($r), [], "$name - nothing else was written");
--- error_log
cs: the key "cs:user:*:tickets" holds a value of the wrong type
--- no_error_log eval
# neither the user id nor its HMAC name
["u1:tickets", CsTest::user_key('u1'), "[alert]"]



=== TEST 5: an agent's queue of the wrong type: nothing is written, not even the round-robin turn
--- init
CsTest::flush_redis();
CsTest::redis()->hset('cs:queue:agent1', 'x', 1);
--- request
POST /api/service
{"userId":"u2","issue":"queue trouble"}
--- more_headers
Content-Type: application/json
--- error_code: 500
--- stored
is_deeply([ sort $r->keys('cs:*') ], ['cs:queue:agent1'],
          "$name - nothing was written");
--- error_log
cs: the key "cs:queue:agent1" holds a value of the wrong type



=== TEST 6: route:last of the wrong type under round robin: nothing is written
--- init
CsTest::flush_redis();
CsTest::redis()->set('cs:route:last', 'not a hash');
--- request
POST /api/service
{"userId":"u3","issue":"route trouble"}
--- more_headers
Content-Type: application/json
--- error_code: 500
--- stored
is_deeply([ sort $r->keys('cs:*') ], ['cs:route:last'],
          "$name - nothing was written");
--- error_log
cs: the key "cs:route:last" holds a value of the wrong type



=== TEST 7: a stored value that is not UTF-8 makes a 500, never a broken 201 body
--- init
CsTest::flush_redis();
my $d = main::digest(userId => 'u1', issue => 'replayed', priority => 'normal',
                     channel => 'api');
CsTest::redis()->set('cs:idem:bad-utf8', "7:$d:assigned:agent\xff\xfe");
--- request
POST /api/service
{"userId":"u1","issue":"replayed"}
--- more_headers
Content-Type: application/json
Idempotency-Key: bad-utf8
--- error_code: 500
--- response_headers
Content-Type: application/json
--- response_body chop
{"status":"error","error":"internal_error","message":"internal error"}
--- error_log
cs: an answer was refused by the JSON generator



=== TEST 8: a 422 carries its reason phrase
--- request
POST /api/service
{"userId":"u1"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- raw_response_headers_like: ^HTTP/1\.1 422 Unprocessable Entity\r\n
--- response_body chop
{"status":"error","error":"missing_field","message":"a required field is missing","field":"issue"}
