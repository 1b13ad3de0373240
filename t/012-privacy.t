# Nothing personal reaches the error log at the default level (nor at
# info): not the userId, the email or the issue, on any path.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;

no_shuffle();
log_level('info');

redis_start();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_timeout 300ms;
    cs_agents agent1;
}
CONF
    $block->set_value('more_headers', "Content-Type: application/json\n")
        unless defined $block->more_headers;
    # the log is also checked for the personal values of every block
    $block->set_value('no_error_log', <<'LOG') unless defined $block->no_error_log;
alice-7f3a
alice@example.org
my card number is 4111
LOG
});

add_response_body_check(sub {
    my ($block) = @_;
    redis_signal('CONT') if $block->name =~ /timed-out/;
});

run_tests();

__DATA__

=== TEST 1: a stored ticket logs nothing personal
--- init
CsTest::warm_up();
--- request
POST /api/service
{"userId":"alice-7f3a","email":"alice@example.org","issue":"my card number is 4111"}
--- error_code: 201
--- response_body_like: "state":"assigned"



=== TEST 2: a rejected ticket logs nothing personal
--- request
POST /api/service
{"userId":"alice-7f3a","issue":"my card number is 4111","email":"alice@example.org@x"}
--- error_code: 422
--- response_body_like: "field":"email"



=== TEST 3: a timed-out ticket logs nothing personal
--- init
CsTest::warm_up();
CsTest::redis_signal('STOP');
--- request
POST /api/service
{"userId":"alice-7f3a","email":"alice@example.org","issue":"my card number is 4111 (SIGSTOP)"}
--- error_code: 504
--- response_body_like: "error":"store_timeout"
--- error_log
did not answer



=== TEST 4: a ticket refused for want of Redis logs nothing personal
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:1;
}
--- request
POST /api/service
{"userId":"alice-7f3a","email":"alice@example.org","issue":"my card number is 4111"}
--- error_code: 503
--- error_log
connect failed



=== TEST 5: a client that goes away logs nothing personal
--- init
CsTest::warm_up();
CsTest::redis()->client_pause(500, 'WRITE');
--- request
POST /api/service
{"userId":"alice-7f3a","email":"alice@example.org","issue":"my card number is 4111"}
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 0.8
--- error_log
client prematurely closed connection
