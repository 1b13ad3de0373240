# nginx's own features keep working around the handler: "if" and "set"
# inside the location (the block inherits the service and its Redis
# connection), allow/deny, and auth_request.  Answers stay the module's
# JSON with CORS, whichever of them decides.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;

redis_start();

# --- stored: Perl run after each response (see t/lib/CsCheck.pm)
check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;
});

run_tests();

__DATA__

=== TEST 1: a request that enters an "if" block with "set" gets its 201 and the ticket is stored
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
    if ($http_x_t) {
        set $x 1;
    }
}
--- request
POST /api/service
{"userId":"u-if","issue":"inside an if"}
--- more_headers
Content-Type: application/json
X-T: 1
--- error_code: 201
--- response_body chop
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- stored
is($r->hget('cs:ticket:1', 'issue'), 'inside an if', "$name - stored");
is($r->get('cs:ticket:seq'), 1, "$name - one ticket");
--- no_error_log
[alert]
[crit]
signal



=== TEST 2: inside an "if" block a bad body is the module's JSON 400, with CORS for a listed origin
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_cors_origin https://app.example;
    if ($http_x_t) {
        set $x 1;
    }
}
--- request
POST /api/service
{"userId":"u-if",
--- more_headers
Content-Type: application/json
Origin: https://app.example
X-T: 1
--- error_code: 400
--- response_headers
Content-Type: application/json
Access-Control-Allow-Origin: https://app.example
Vary: Origin
--- response_body_like: ^\{"status":"error","error":"invalid_json","message":"[^"]+"\}$
--- no_error_log
[alert]
signal



=== TEST 3: inside an "if" block the wrong method is the module's JSON 405 with Allow
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    if ($http_x_t) {
        set $x 1;
    }
}
--- request
GET /api/service
--- more_headers
X-T: 1
--- error_code: 405
--- response_headers
Allow: POST
--- response_body chop
{"status":"error","error":"method_not_allowed","message":"only POST is allowed here"}
--- no_error_log
signal



=== TEST 4: "deny" refuses with the module's JSON 403 and nothing is stored
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    deny 127.0.0.1;
    allow all;
}
--- request
POST /api/service
{"userId":"u-deny","issue":"let me in"}
--- more_headers
Content-Type: application/json
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chop
{"status":"error","error":"forbidden","message":"access to this resource is forbidden"}
--- stored
is($r->get('cs:ticket:seq'), undef, "$name - nothing stored");
--- no_error_log
[alert]



=== TEST 5: "allow" lets the ticket through
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    allow 127.0.0.1;
    deny all;
}
--- request
POST /api/service
{"userId":"u-allow","issue":"allowed"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body chop
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":null,"state":"queued"}



=== TEST 6: auth_request that allows: the ticket is taken
--- config
location = /auth {
    internal;
    if ($http_x_token = "good") {
        return 204;
    }
    return 401;
}
location = /api/service {
    auth_request /auth;
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- request
POST /api/service
{"userId":"u-auth","issue":"authorised"}
--- more_headers
Content-Type: application/json
X-Token: good
--- error_code: 201
--- response_body chop
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}



=== TEST 7: auth_request that refuses: the module's JSON 401, with CORS, and nothing is stored
--- config
location = /auth {
    internal;
    if ($http_x_token = "good") {
        return 204;
    }
    return 401;
}
location = /api/service {
    auth_request /auth;
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_cors_origin https://app.example;
}
--- request
POST /api/service
{"userId":"u-auth","issue":"not authorised"}
--- more_headers
Content-Type: application/json
Origin: https://app.example
X-Token: bad
--- error_code: 401
--- response_headers
Content-Type: application/json
Access-Control-Allow-Origin: https://app.example
--- response_body chop
{"status":"error","error":"unauthorized","message":"the request is not authorised"}
--- stored
is($r->get('cs:ticket:seq'), undef, "$name - nothing stored");



=== TEST 8: mirror with mirror_request_body reads the body first: the ticket is still validated and stored
--- config
location = /mirror {
    internal;
    return 204;
}
location = /api/service {
    mirror /mirror;
    mirror_request_body on;
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- request eval
[ "POST /api/service\n{\"userId\":\"u-mirror\",\"issue\":\"seen twice\"}",
  "POST /api/service\n{\"userId\":\"u-mirror\",\"issue\":" ]
--- more_headers
Content-Type: application/json
--- error_code eval
[201, 400]
--- response_body_like eval
[ '^\{"status":"success","message":"Request received and processed\.","ticketId":1,"agent":"agent1","state":"assigned"\}$',
  '"error":"invalid_json"' ]
--- stored
is($r->hget('cs:ticket:1', 'issue'), 'seen twice', "$name - stored as sent");
is($r->get('cs:ticket:seq'), 1, "$name - one ticket");
