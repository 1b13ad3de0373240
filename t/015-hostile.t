# Large hostile bodies through the live server: each gets the JSON error
# DESIGN's order of precedence names, costs no more than the limits, and
# writes nothing.  (The small hostile inputs are in 002-validation.t.)
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
    cs_agents agent1;
    client_max_body_size 16m;
    client_body_buffer_size 64k;
}
CONF
    $block->set_value('more_headers', "Content-Type: application/json\n");
    $block->set_value('timeout', valgrind() ? 300 : 30);
});

add_response_body_check(sub {
    my ($block) = @_;
    my @keys = redis_keys();
    Test::More::is("@keys", '', $block->name . ' - nothing written');
});

run_tests();

__DATA__

=== TEST 1: a 10 MB issue is an invalid field, read from a temp file
--- request eval
"POST /api/service\n" . '{"userId":"u1","issue":"' . ('x' x (10 * 1024 * 1024)) . '"}'
--- error_code: 422
--- response_body chomp
{"status":"error","error":"invalid_field","message":"issue is longer than the configured maximum","field":"issue"}
--- error_log
a client request body is buffered to a temporary file



=== TEST 2: a 10 MB unknown field name is named, cut to 128 bytes
--- request eval
"POST /api/service\n" . '{"' . ('k' x (10 * 1024 * 1024)) . '":1,"userId":"u1","issue":"x"}'
--- error_code: 422
--- response_body eval
'{"status":"error","error":"unknown_field","message":"unknown field","field":"' . ('k' x 128) . '"}'



=== TEST 3: 100k-deep nesting stops at 32 levels
--- request eval
"POST /api/service\n" . '{"userId":' . ('[' x 100000) . (']' x 100000) . '}'
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"nesting is deeper than 32 levels at byte 41"}



=== TEST 4: 100k keys in one object then a duplicate: 400 at the 257th key, the rest not looked at
--- request eval
"POST /api/service\n" . '{"userId":"u1","issue":"x","n":{'
    . CORE::join(',', map { qq("k$_":$_) } 1 .. 100000) . ',"k7":7}}'
--- error_code: 400
--- response_body eval
'{"status":"error","error":"invalid_json","message":"an object has more than 256 keys at byte '
. length('{"userId":"u1","issue":"x","n":{'
         . CORE::join(',', map { qq("k$_":$_) } 1 .. 256) . ',"k257') . '"}'



=== TEST 5: a 10 MB string that turns invalid at its very end
--- request eval
"POST /api/service\n" . '{"userId":"u1","issue":"' . ('y' x (10 * 1024 * 1024)) . "\xc0\xaf" . '"}'
--- error_code: 400
--- response_body_like: ^\{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 10485784"\}$



=== TEST 6: 1e999 and friends are values of the wrong type, not overflows
--- request
POST /api/service
{"userId":"u1","issue":1e999}
--- error_code: 422
--- response_body chomp
{"status":"error","error":"invalid_field","message":"the value must be a string","field":"issue"}



=== TEST 7: form feed and vertical tab are not JSON white space (yajl takes them for it)
--- request eval
["POST /api/service\n{\"userId\":\"u1\",\f\"issue\":\"x\"}",
 "POST /api/service\n{\"userId\":\"u1\",\x0b\"issue\":\"x\"}"]
--- error_code eval
[400, 400]
--- response_body eval
['{"status":"error","error":"invalid_json","message":"invalid white space at byte 15"}',
 '{"status":"error","error":"invalid_json","message":"invalid white space at byte 15"}']



=== TEST 8: a grammar error before a bad UTF-8 byte in the same buffer is the one reported
--- request eval
"POST /api/service\n{\"userId\":x\"\xc0\"}"
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"invalid char in json text. at byte 10"}
