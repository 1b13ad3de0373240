# cs_cors_origin: the preflight, and the CORS headers on every answer to a
# listed origin (the 201 and each error, the module's own and nginx's);
# nothing for an unlisted origin; "*"; a list at a lower level replaces the
# inherited one; without the directive no CORS at all.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;

redis_start();

our $Created1 = '{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}';

# the headers a listed origin gets on every answer
our $Cors = <<'HDR';
Access-Control-Allow-Origin: https://app.example
Vary: Origin
Access-Control-Expose-Headers: Retry-After
HDR

# no CORS header at all
our $NoCors = <<'HDR';
!Access-Control-Allow-Origin
!Access-Control-Allow-Methods
!Access-Control-Allow-Headers
!Access-Control-Allow-Credentials
!Access-Control-Max-Age
!Access-Control-Expose-Headers
HDR

# a location with cs_cors_origin varies by Origin on every answer, so that
# caches keep the answers to listed and unlisted origins apart
our $VaryOnly = $NoCors . "Vary: Origin\n";

sub list { my ($r, $key) = @_; return [ $r->lrange($key, 0, -1) ] }

# --- stored: Perl run after each response (see t/lib/CsCheck.pm)
check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
    cs_cors_origin https://app.example;
}
CONF

    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;

    # unless a block says otherwise, nothing is written
    $block->set_value('stored',
                      'is_deeply([ $r->keys("*") ], [], "$name - nothing '
                      . 'written");')
        unless defined $block->stored;
});

run_tests();

__DATA__

=== TEST 1: preflight from a listed origin
--- request
OPTIONS /api/service
--- more_headers
Origin: https://app.example
Access-Control-Request-Method: POST
Access-Control-Request-Headers: content-type, idempotency-key
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin: https://app.example
Access-Control-Allow-Methods: POST, OPTIONS
Vary: Origin
Allow: POST, OPTIONS
Access-Control-Expose-Headers: Retry-After
--- raw_response_headers_like eval
qr/\A
   (?=.*\nAccess-Control-Allow-Headers:[^\r\n]*\bContent-Type\b)
   (?=.*\nAccess-Control-Allow-Headers:[^\r\n]*\bIdempotency-Key\b)
   .*\nAccess-Control-Max-Age:\ [1-9]\d*\r\n/xis
--- response_body chomp
--- no_error_log
[error]



=== TEST 2: the 201 to a listed origin carries the CORS headers
--- request
POST /api/service
{"userId":"u1","issue":"hello from the browser"}
--- more_headers
Origin: https://app.example
Content-Type: application/json
--- error_code: 201
--- response_headers eval
$main::Cors . "Content-Type: application/json\n"
--- response_body eval
$main::Created1
--- stored
is($r->hget('cs:ticket:1', 'issue'), 'hello from the browser',
   "$name - stored");
is_deeply(list($r, 'cs:queue:agent1'), [1], "$name - queued");
is_deeply([ user_tickets('u1') ], [1], "$name - history"); # by HMAC
is($r->xlen('cs:events'), 1, "$name - event");
--- no_error_log
[error]



=== TEST 3: every error to a listed origin carries the CORS headers
--- request eval
[ "GET /api/service",
  "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"x\"}",
  "POST /api/service\n{\"userId\":\"u1\"}",
  "POST /api/service\n{\"userId\":",
  "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"x\"}" ]
--- more_headers eval
[ "Origin: https://app.example",
  "Origin: https://app.example\nContent-Type: text/plain",
  "Origin: https://app.example\nContent-Type: application/json",
  "Origin: https://app.example\nContent-Type: application/json",
  "Origin: https://app.example\nContent-Type: application/json\nIdempotency-Key:" ]
--- error_code eval
[405, 415, 422, 400, 400]
--- response_headers eval
[ $main::Cors . "Allow: POST, OPTIONS\n", ($main::Cors) x 4 ]
--- response_body_like eval
[ '"error":"method_not_allowed"', '"error":"unsupported_media_type"',
  '"error":"missing_field"', '"error":"invalid_json"',
  '"error":"invalid_idempotency_key"' ]



=== TEST 4: a 409 to a listed origin carries the CORS headers
--- request eval
[ "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"one\"}",
  "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"two\"}" ]
--- more_headers
Origin: https://app.example
Content-Type: application/json
Idempotency-Key: key-1
--- error_code eval
[201, 409]
--- response_headers eval
[ ($main::Cors) x 2 ]
--- response_body eval
[ $main::Created1, '{"status":"error","error":"idempotency_key_reused","message":"this Idempotency-Key was used for a different ticket"}' ]
--- stored
is($r->get('cs:ticket:seq'), 1, "$name - one ticket");



=== TEST 5: nginx's own 413 to a listed origin carries the CORS headers
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_cors_origin https://app.example;
    client_max_body_size 16;
}
--- request
POST /api/service
{"userId":"u1","issue":"far too long for sixteen bytes"}
--- more_headers
Origin: https://app.example
Content-Type: application/json
--- error_code: 413
--- response_headers eval
$main::Cors . "Content-Type: application/json\n"
--- response_body_like: "error":"body_too_large"



=== TEST 6: limit_req's 429 to a listed origin carries the CORS headers
--- http_config
limit_req_zone $binary_remote_addr zone=cs_cors:1m rate=1r/m;
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
    cs_cors_origin https://app.example;
    limit_req zone=cs_cors;
    limit_req_status 429;
}
--- request eval
[ "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"one\"}",
  "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"two\"}" ]
--- more_headers
Origin: https://app.example
Content-Type: application/json
--- error_code eval
[201, 429]
--- response_headers eval
[ $main::Cors, $main::Cors ]
--- raw_response_headers_like eval
[ qr/\nContent-Type: application\/json\r\n/,
  qr/\nRetry-After: [1-9]\d*\r\n/ ]
--- response_body_like eval
[ '"ticketId":1,', '"error":"rate_limited"' ]
--- stored
is($r->get('cs:ticket:seq'), 1, "$name - one ticket");



=== TEST 7: a 503 with Redis unreachable carries the CORS headers and Retry-After
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:1;
    cs_agents agent1;
    cs_cors_origin https://app.example;
}
--- request
POST /api/service
{"userId":"u1","issue":"hello"}
--- more_headers
Origin: https://app.example
Content-Type: application/json
--- error_code: 503
--- response_headers eval
$main::Cors
--- raw_response_headers_like eval
qr/\nRetry-After: [1-9]\d*\r\n/
--- response_body chomp
{"status":"error","error":"store_unavailable","message":"the ticket store is not reachable; retry later"}



=== TEST 8: an unlisted origin gets no CORS header, preflight included
--- request eval
[ "OPTIONS /api/service",
  "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"hello\"}",
  "GET /api/service",
  "POST /api/service\n{\"userId\":\"u1\"}" ]
--- more_headers eval
[ "Origin: https://evil.example\nAccess-Control-Request-Method: POST",
  "Origin: https://evil.example\nContent-Type: application/json",
  "Origin: https://evil.example",
  "Origin: https://evil.example\nContent-Type: application/json" ]
--- error_code eval
[204, 201, 405, 422]
--- response_headers eval
[ ($main::VaryOnly) x 4 ]
--- response_body_like eval
[ '^$', '"ticketId":1,', '"error":"method_not_allowed"',
  '"error":"missing_field"' ]
--- stored
is($r->get('cs:ticket:seq') // 0, $req_idx >= 1 ? 1 : 0,
   "$name - only the 201 wrote");



=== TEST 9: an origin must match whole: no prefix, port, scheme or suffix match
--- request eval
[ ("OPTIONS /api/service") x 6 ]
--- more_headers eval
[ map { "Origin: $_\nAccess-Control-Request-Method: POST" }
  'https://app.example.evil.com', 'https://app.example:8443',
  'http://app.example', 'https://app.exampl', 'https://app.example/',
  'null' ]
--- error_code eval
[ (204) x 6 ]
--- response_headers eval
[ ($main::VaryOnly) x 6 ]



=== TEST 10: a request without Origin gets no CORS header
--- request
POST /api/service
{"userId":"u1","issue":"from a server"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_headers eval
$main::VaryOnly
--- response_body eval
$main::Created1
--- stored
is($r->get('cs:ticket:seq'), 1, "$name - stored");



=== TEST 11: several origins: each listed one is answered with itself
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_cors_origin https://app.example;
    cs_cors_origin http://localhost:3000;
}
--- request eval
[ ("OPTIONS /api/service") x 3 ]
--- more_headers eval
[ "Origin: http://localhost:3000\nAccess-Control-Request-Method: POST",
  "Origin: https://app.example\nAccess-Control-Request-Method: POST",
  "Origin: http://localhost:3001\nAccess-Control-Request-Method: POST" ]
--- error_code eval
[204, 204, 204]
--- response_headers eval
[ "Access-Control-Allow-Origin: http://localhost:3000\nVary: Origin\nAccess-Control-Allow-Methods: POST, OPTIONS",
  "Access-Control-Allow-Origin: https://app.example\nVary: Origin\nAccess-Control-Allow-Methods: POST, OPTIONS",
  $main::NoCors ]



=== TEST 12: cs_cors_origin * answers * to any origin
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
    cs_cors_origin *;
}
--- request eval
[ "OPTIONS /api/service",
  "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"hello\"}",
  "GET /api/service" ]
--- more_headers eval
[ "Origin: https://anything.example\nAccess-Control-Request-Method: POST",
  "Origin: http://localhost:8080\nContent-Type: application/json",
  "Origin: null" ]
--- error_code eval
[204, 201, 405]
--- response_headers eval
[ "Access-Control-Allow-Origin: *\nAccess-Control-Allow-Methods: POST, OPTIONS\nAllow: POST, OPTIONS",
  "Access-Control-Allow-Origin: *\nAccess-Control-Expose-Headers: Retry-After",
  "Access-Control-Allow-Origin: *\nAllow: POST, OPTIONS" ]
--- stored
is($r->get('cs:ticket:seq') // 0, $req_idx >= 1 ? 1 : 0,
   "$name - only the 201 wrote");



=== TEST 13: a list in the location replaces the server's
--- config
cs_cors_origin https://app.example;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_cors_origin https://admin.example;
}
location = /api/inherit {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
--- request eval
[ "OPTIONS /api/service", "OPTIONS /api/service", "OPTIONS /api/inherit",
  "OPTIONS /api/inherit" ]
--- more_headers eval
[ "Origin: https://app.example\nAccess-Control-Request-Method: POST",
  "Origin: https://admin.example\nAccess-Control-Request-Method: POST",
  "Origin: https://app.example\nAccess-Control-Request-Method: POST",
  "Origin: https://admin.example\nAccess-Control-Request-Method: POST" ]
--- error_code eval
[204, 204, 204, 204]
--- response_headers eval
[ $main::NoCors,
  "Access-Control-Allow-Origin: https://admin.example\nAccess-Control-Allow-Methods: POST, OPTIONS",
  "Access-Control-Allow-Origin: https://app.example\nAccess-Control-Allow-Methods: POST, OPTIONS",
  $main::NoCors ]



=== TEST 14: without cs_cors_origin: no CORS headers, OPTIONS is a 405
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- request eval
[ "OPTIONS /api/service",
  "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"hello\"}",
  "POST /api/service\n{\"userId\":\"u1\"}" ]
--- more_headers eval
[ "Origin: https://app.example\nAccess-Control-Request-Method: POST",
  "Origin: https://app.example\nContent-Type: application/json",
  "Origin: https://app.example\nContent-Type: application/json" ]
--- error_code eval
[405, 201, 422]
--- response_headers eval
[ map { "$main::NoCors!Vary\n$_" } "Allow: POST\n", "", "" ]
--- response_body eval
[ '{"status":"error","error":"method_not_allowed","message":"only POST is allowed here"}',
  $main::Created1,
  '{"status":"error","error":"missing_field","message":"a required field is missing","field":"issue"}' ]
--- stored
is($r->get('cs:ticket:seq') // 0, $req_idx >= 1 ? 1 : 0,
   "$name - only the 201 wrote");



=== TEST 15: two Origin headers are not a listed origin
--- request
OPTIONS /api/service
--- more_headers
Origin: https://app.example
Origin: https://app.example
Access-Control-Request-Method: POST
--- error_code: 204
--- response_headers eval
$main::VaryOnly
