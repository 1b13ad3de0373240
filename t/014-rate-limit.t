# limit_req in a cs_service location answers in the module's JSON:
# 429 rate_limited with Retry-After, and the refused ticket is not stored.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;

redis_start();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();');
    $block->set_value('http_config', ($block->http_config // '') . <<'CONF');
limit_req_zone $binary_remote_addr zone=cs:1m rate=1r/m;
CONF
});

# after the refused request, only the first ticket is in Redis
add_response_body_check(sub {
    my ($block, $body, $req_idx) = @_;
    return unless $body =~ /rate_limited/;
    Test::More::is(redis()->get('cs:ticket:seq'), 1,
                   $block->name . ' - the refused ticket was not stored');
    Test::More::is(scalar(user_tickets('u1')), 1,
                   $block->name . ' - one ticket in the history');
});

run_tests();

__DATA__

=== TEST 1: the request over the limit gets the JSON 429 with Retry-After, and only the first ticket is stored
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
    limit_req zone=cs nodelay;
    limit_req_status 429;
}
--- pipelined_requests eval
["POST /api/service\n{\"userId\":\"u1\",\"issue\":\"first\"}",
 "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"second\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[201, 429]
--- response_headers_like eval
["Content-Type: application/json", "Retry-After: ^1\$"]
--- response_body_like eval
['^\{"status":"success","message":"Request received and processed\.","ticketId":1,"agent":"agent1","state":"assigned"\}$',
 '^\{"status":"error","error":"rate_limited","message":"too many requests; retry later"\}$']
--- no_error_log
[alert]



=== TEST 2: the 429 carries the CORS headers for a listed origin
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_cors_origin https://shop.example;
    limit_req zone=cs nodelay;
    limit_req_status 429;
}
--- pipelined_requests eval
["POST /api/service\n{\"userId\":\"u1\",\"issue\":\"first\"}",
 "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"second\"}"]
--- more_headers
Content-Type: application/json
Origin: https://shop.example
--- error_code eval
[201, 429]
--- response_headers eval
["Access-Control-Allow-Origin: https://shop.example\nVary: Origin",
 "Access-Control-Allow-Origin: https://shop.example\nVary: Origin\nAccess-Control-Expose-Headers: Retry-After\nRetry-After: 1"]
--- response_body_like eval
['"ticketId":1,', '"error":"rate_limited"']
