# cs_service answers only POST with JSON, and says so in JSON.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;

redis_start();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
}
CONF
});

# no rejection writes anything
add_response_body_check(sub {
    my ($block) = @_;
    my @keys = redis_keys();
    Test::More::is(scalar @keys, 0, $block->name . " - nothing written")
        or Test::More::diag("keys: @keys");
});

run_tests();

__DATA__

=== TEST 1: GET gets the JSON 405 with Allow: POST
--- request
GET /api/service
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body chomp
{"status":"error","error":"method_not_allowed","message":"only POST is allowed here"}
--- no_error_log
[error]



=== TEST 2: PUT with a body gets 405 too
--- request
PUT /api/service
{"userId":"u1","issue":"hello"}
--- more_headers
Content-Type: application/json
--- error_code: 405
--- response_headers
Allow: POST
--- response_body chomp
{"status":"error","error":"method_not_allowed","message":"only POST is allowed here"}



=== TEST 3: OPTIONS without cs_cors_origin is not allowed
--- request
OPTIONS /api/service
--- error_code: 405
--- response_headers
Allow: POST
!Access-Control-Allow-Origin
--- response_body_like: "error":"method_not_allowed"



=== TEST 4: POST without a content type gets 415
--- request
POST /api/service
{"userId":"u1","issue":"hello"}
--- error_code: 415
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"error","error":"unsupported_media_type","message":"the body must be sent as Content-Type: application/json"}



=== TEST 5: text/plain is not JSON
--- request
POST /api/service
{"userId":"u1","issue":"hello"}
--- more_headers
Content-Type: text/plain
--- error_code: 415
--- response_body_like: "error":"unsupported_media_type"



=== TEST 6: method comes before content type in precedence
--- request
DELETE /api/service
--- more_headers
Content-Type: text/plain
--- error_code: 405
--- response_body_like: "error":"method_not_allowed"



=== TEST 7: a rejected body on keep-alive is discarded, not parsed as the next request
--- pipelined_requests eval
["PUT /api/service\n{\"userId\":\"u1\",\"issue\":\"GET /x HTTP/1.1\"}",
 "GET /api/service"]
--- error_code eval
[405, 405]
--- response_body eval
['{"status":"error","error":"method_not_allowed","message":"only POST is allowed here"}',
 '{"status":"error","error":"method_not_allowed","message":"only POST is allowed here"}']



=== TEST 8: a refused request whose chunked body is malformed gets nginx's JSON 400, not a 500
--- raw_request eval
"PUT /api/service HTTP/1.1\r
Host: localhost\r
Transfer-Encoding: chunked\r
Connection: close\r
\r
zz\r
oops\r
0\r
\r
"
--- error_code: 400
--- response_body_like: ^\{"status":"error","error":"bad_request",
--- no_error_log
[alert]
