# Self-test of the compat runner: raw_request (string and chunks with a
# middle delay), pipelined_requests, request arrays and request packets.
# The runner's own tests: under the real Test::Nginx (prove -r t) they skip.
BEGIN {
    require Test::Nginx::Socket;
    if ($INC{'Test/Nginx/Socket.pm'} !~ m{compat/Test/Nginx/Socket\.pm$}) {
        print "1..0 # SKIP the compat runner's self-tests\n";
        exit 0;
    }
}
use Test::Nginx::Socket 'no_plan';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: raw_request string (HTTP/1.0, no Host header needed)
--- config
    location = /t {
        return 200 "proto=$server_protocol host=[$http_host]\n";
    }
--- raw_request eval
"GET /t HTTP/1.0\r\n\r\n"
--- response_body
proto=HTTP/1.0 host=[]



=== TEST 2: raw_request eval array, chunks sent with a middle delay
--- config
    location = /t {
        return 200 "$request_time\n";
    }
--- raw_request eval
["GET /t HTTP/1.1\r\nHost: loc", "alhost\r\nConnection: close\r\n\r\n"]
--- raw_request_middle_delay: 0.3
--- response_body_like: ^(?:0\.[2-9]|[1-9])\d*



=== TEST 3: pipelined requests: one connection, per-request expectations
--- config
    location = /a {
        return 200 "a $connection_requests\n";
    }
    location = /b {
        return 201 "b $connection_requests $http_connection\n";
    }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["a 1\n", "b 2 close\n"]
--- no_error_log
[error]



=== TEST 4: request eval with several requests (one connection each)
--- config
    location = /t {
        return 200 "$arg_n $connection_requests\n";
    }
--- request eval
["GET /t?n=1", "GET /t?n=2"]
--- response_body eval
["1 1\n", "2 1\n"]



=== TEST 5: request split into packets with delay_before
--- config
    location = /t {
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        return 200 "[$http_x_body] $http_x_len\n";
    }
--- more_headers
X-Len: 11
--- request eval
[["POST /t\nhello", {value => " world", delay_before => 0.2}]]
--- response_body
[hello world] 11



=== TEST 6: chunked request body via more_headers (sent as is)
--- config
    location = /t {
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        return 200 "[$http_x_body]\n";
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /t
5\r
hello\r
0\r
\r
"
--- response_body
[hello]



=== TEST 7: HEAD request, raw_response_headers_like
--- config
    location = /t {
        return 200 "some body\n";
    }
--- request
HEAD /t
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n.*Content-Length: 10\r\n
--- response_body
