# Self-test of the compat runner: request/response sections, env expansion,
# log checks, repeat_each.  Stock nginx only.
# The runner's own tests: under the real Test::Nginx (prove -r t) they skip.
BEGIN {
    require Test::Nginx::Socket;
    if ($INC{'Test/Nginx/Socket.pm'} !~ m{compat/Test/Nginx/Socket\.pm$}) {
        print "1..0 # SKIP the compat runner's self-tests\n";
        exit 0;
    }
}
BEGIN { $ENV{TEST_NGINX_GREETING} = 'hello from env'; }

use Test::Nginx::Socket;

repeat_each(2);

# 3 blocks with 2 tests (status + body), plus the extra per-section tests
# counted in each block's comment.
plan tests => repeat_each() * (2 * blocks() + 2 + 3 + 3 + 1 + 2 + 2);

run_tests();

__DATA__

=== TEST 1: plain response body
--- config
    location = /t {
        return 200 "hi\n";
    }
--- request
    GET /t
--- response_body
hi



=== TEST 2: error_code, response_body_like
--- config
    location = /t {
        return 404 "nothing here, sorry\n";
    }
--- request
GET /t
--- error_code: 404
--- response_body_like: ^nothing \w+, sorry$



=== TEST 3: response_headers incl. absent header (+2)
--- config
    location = /t {
        add_header X-Foo "bar baz";
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar baz
!X-Absent
--- response_body
ok



=== TEST 4: response_headers_like and more_headers (+3)
--- config
    location = /t {
        add_header X-Echo $http_x_foo;
        return 200 "$http_x_foo|$http_x_bar\n";
    }
--- request
GET /t
--- more_headers
X-Foo: foo-value
# a comment line is ignored
X-Bar: 42
--- response_headers_like
X-Echo: foo-v\w+
Content-Type: text/plain
Content-Length: \d+
--- response_body
foo-value|42



=== TEST 5: POST body gets a Content-Length, trimmed as in the real one (+3)
--- config
    location = /t {
        # proxying makes nginx read the body, so $request_body is set
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        return 200 "$request_method $content_length [$http_x_body]\n";
    }
--- request
POST /t
hello body
--- response_body
POST 10 [hello body]
--- error_log
http proxy header:
[debug]
--- no_error_log
[error]



=== TEST 6: $TEST_NGINX_* expansion in config and http_config, chunked response (+1)
--- http_config
    map $uri $greeting {
        default "$TEST_NGINX_GREETING";
    }
--- config
    chunked_transfer_encoding on;
    location = /t {
        return 200 "$greeting\n";
    }
--- request
GET /t
--- response_headers
Content-Type: text/plain
--- response_body
hello from env



=== TEST 7: error_log / no_error_log with eval arrays and regexes (+2 +2)
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t?marker=7
--- response_body
ok
--- error_log eval
[qr{http args: "marker=7"}, "http finalize request"]
--- no_error_log eval
[qr/\[(?:error|crit|alert|emerg)\]/, "no such message anywhere"]
