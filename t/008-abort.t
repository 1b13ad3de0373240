# A client that goes away while its ticket is with Redis costs nothing:
# the request's waiting record is detached, the late reply is dropped,
# and the access log shows 499.  (Run under valgrind by make test-valgrind.)
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;

no_shuffle();
check_stored_sections();

redis_start();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_timeout 5s;
    cs_agents agent1;
    # the access log line lands where --- error_log can see it
    access_log logs/error.log;
}
CONF
});

run_tests();

__DATA__

=== TEST 1: the client goes away while Redis is paused; the late reply is dropped
--- init
CsTest::flush_redis();
CsTest::warm_up();
CsTest::redis()->client_pause(800, 'WRITE');
--- request
POST /api/service
{"userId":"gone","issue":"I will not wait"}
--- more_headers
Content-Type: application/json
--- timeout: 0.3
--- abort
--- wait: 1.5
--- ignore_response
--- error_log eval
[qr/client prematurely closed connection/,
 qr/cs: request gone before its redis reply/,
 qr{"POST /api/service HTTP/1\.1" 499 }]
--- no_error_log
[alert]
[crit]



=== TEST 2: the worker still serves after the dropped reply, and the ticket was stored once
--- init
Test::More::ok(CsTest::wait_until(sub { CsTest::user_tickets('gone') > 0 }, 5),
               'TEST 2 - the abandoned ticket reached Redis after the pause');
--- request
POST /api/service
{"userId":"next","issue":"still there?"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like: "ticketId":\d+,"agent":"agent1","state":"assigned"
--- stored
# exactly one: neither lost with its request nor sent again
my @gone = CsTest::user_tickets('gone');
Test::More::is(scalar @gone, 1, "$name - one ticket of user gone")
    or Test::More::diag("ids: @gone");
Test::More::is(CsTest::ticket($gone[0] // 0)->{issue}, 'I will not wait',
               "$name - it holds the abandoned issue");
--- no_error_log
[alert]
