# Reading the body every way nginx can hand it over: Content-Length,
# chunked (many chunks, split anywhere), a temporary file, a byte at a time,
# Expect: 100-continue.  Each stores the same ticket (checked in Redis
# against the decoded body sent).  nginx's own answers on a cs_service
# location (413 for a declared or a chunked length, 400 for a broken chunked
# body) are JSON and carry the CORS headers; a rejected body is never taken
# for the next request on the connection; a body shorter than its
# Content-Length only times out.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;


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

    $block->set_value('more_headers', 'Content-Type: application/json')
        unless defined $block->more_headers || defined $block->raw_request
               || defined $block->pipelined_requests;

    # each block starts from an empty Redis (init runs once nginx is up)
    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;

    # nginx logs its own 413 at [error]; nothing may crash
    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]")
        unless defined $block->no_error_log;

    # a client that gives up waits this long; valgrind is slower
    $block->set_value('timeout', 5) if defined $block->abort && valgrind();
});


# The ticket most blocks send: raw and escaped UTF-8, a surrogate pair and
# every optional field.
sub ticket_body {
    return '{"userId":"u-1","issue":"Printer on fire ' . "\xc3\xa9"
         . ' \u00e9 \ud83d\ude00","category":"hardware","priority":"high",'
         . '"channel":"web","email":"u@example.com"}';
}


sub head {
    my ($path, $headers) = @_;
    return "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
         . $headers;
}


# a whole POST with its Content-Length, for raw_request
sub raw_post {
    my ($headers, $body, $path) = @_;
    return head($path // '/api/service',
                "Content-Type: application/json\r\n$headers")
         . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
}


# the pieces as chunks, then the last chunk
sub chunks {
    return join('', map { sprintf("%x\r\n%s\r\n", length, $_) } @_)
         . "0\r\n\r\n";
}


# a whole chunked POST, for raw_request
sub raw_chunked {
    my ($headers, $path, @pieces) = @_;
    return head($path, "Content-Type: application/json\r\n$headers"
                       . "Transfer-Encoding: chunked\r\n\r\n")
         . chunks(@pieces);
}


# a request that writes a ticket if it is ever parsed as one
sub smuggled {
    my $b = '{"userId":"smuggled","issue":"never stored"}';
    return "POST /api/service HTTP/1.1\r\nHost: localhost\r\n"
         . "Content-Type: application/json\r\nContent-Length: "
         . length($b) . "\r\n\r\n$b";
}


check_stored_tickets();

run_tests();

__DATA__

=== TEST 1: a body with a Content-Length is stored (the reference for the others)
--- request eval
"POST /api/service\n" . main::ticket_body()
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}



=== TEST 2: a chunked body in many chunks (an extension, a trailer) stores the same ticket
--- raw_request eval
my $b = main::ticket_body();
main::head('/api/service', "Content-Type: application/json\r\n"
                           . "Transfer-Encoding: chunked\r\n\r\n")
. "1;ext=x\r\n" . substr($b, 0, 1) . "\r\n"
. CORE::join('', map { sprintf("%x\r\n%s\r\n", length, $_) } unpack('(a7)*', substr($b, 1)))
. "0\r\nX-Trailer: t\r\n\r\n"
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}



=== TEST 3: chunks arriving apart, split inside a key, a UTF-8 character, an escape and a surrogate pair
--- raw_request eval
my @p = ('{"use', 'rId":"u-2","issue":"caf' . "\xc3", "\xa9" . ' \u00', 'e9 \ud83d',
         '\ude00 ok"}');
[main::head('/api/service', "Content-Type: application/json\r\n"
                            . "Transfer-Encoding: chunked\r\n\r\n"),
 map({ sprintf("%x\r\n%s\r\n", length $_, $_) } @p), "0\r\n\r\n"]
--- raw_request_middle_delay: 0.02
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}



=== TEST 4: a fault in a late chunk is reported at its offset in the whole body, as with Content-Length
--- request eval
my $b = '{"userId":"u","issue":"abc' . "\x01" . '"}';
["POST /api/service\n" . main::chunks(unpack '(a5)*', $b), "POST /api/service\n$b"]
--- more_headers eval
["Content-Type: application/json\nTransfer-Encoding: chunked",
 "Content-Type: application/json"]
--- error_code eval
[400, 400]
--- response_body eval
[('{"status":"error","error":"invalid_json","message":"control character in a string at byte 26"}') x 2]



=== TEST 5: a body over client_body_buffer_size goes to a temporary file, is stored the same, and is never read back from the file
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
    client_body_buffer_size 1k;
}
--- request eval
"POST /api/service\n" . '{"userId":"u-3","issue":"' . ("long \xc3\xa9 " x 375) . 'end"}'
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- error_log
a client request body is buffered to a temporary file
--- no_error_log eval
# nginx's debug line for every blocking file read (ngx_read_file)
qr/\bread: \d+, [0-9A-Fa-f]+, \d+, \d+/



=== TEST 6: with client_body_in_file_only the body is validated as it arrives, not read from the file
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
    client_body_in_file_only clean;
}
--- request eval
"POST /api/service\n" . main::ticket_body()
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- no_error_log eval
# nginx's debug line for every blocking file read (ngx_read_file)
qr/\bread: \d+, [0-9A-Fa-f]+, \d+, \d+/



=== TEST 7: a 40 kB body bound for a file is validated in pieces: characters across them, offsets counted over them
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
    cs_issue_max_length 64k;
    client_body_in_file_only clean;
}
--- request eval
["POST /api/service\n" . '{"userId":"u-4","issue":"' . ("\xc3\xa9" x 20000) . '"}',
 "POST /api/service\n" . '{"userId":"u","issue":"' . ('x' x (30000 - 23)) . "\x01" . '"}']
--- error_code eval
[201, 400]
--- response_body eval
['{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}',
 '{"status":"error","error":"invalid_json","message":"control character in a string at byte 30000"}']



=== TEST 8: a chunked body that spills into a temporary file is stored the same
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
    client_body_buffer_size 1k;
}
--- raw_request eval
main::raw_chunked('', '/api/service',
    unpack '(a500)*', '{"userId":"u-5","issue":"' . ("chunk \xc3\xa9 " x 300) . '"}')
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- error_log
a client request body is buffered to a temporary file



=== TEST 9: a request sent a byte at a time is stored the same
--- raw_request eval
[CORE::split //, main::raw_post('', '{"userId":"b","issue":"\u00e9 ' . "\xc3\xa9" . '"}')]
--- raw_request_middle_delay: 0.001
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}



=== TEST 10: Expect: 100-continue gets 100 Continue, then the ticket is stored the same
--- request eval
"POST /api/service\n" . main::ticket_body()
--- more_headers
Content-Type: application/json
Expect: 100-continue
--- error_code: 100
--- response_body_like: ^HTTP/1\.1 201 Created\r?\n.*\{"status":"success","message":"Request received and processed\.","ticketId":1,"agent":"agent1","state":"assigned"\}$



=== TEST 11: a declared Content-Length over the location's client_max_body_size is a JSON 413
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- request eval
"POST /api/service\n" . '{"userId":"u","issue":"' . ('x' x 76) . '"}'
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"error","error":"body_too_large","message":"the body is larger than client_max_body_size"}
--- error_log
client intended to send too large body: 101 bytes



=== TEST 12: a body of exactly client_max_body_size, declared or chunked, is accepted
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- request eval
my $b = '{"userId":"u","issue":"' . ('x' x 75) . '"}';
["POST /api/service\n$b", "POST /api/service\n" . main::chunks(unpack '(a30)*', $b)]
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nTransfer-Encoding: chunked"]
--- error_code eval
[201, 201]
--- response_body eval
['{"status":"success","message":"Request received and processed.","ticketId":1,"agent":null,"state":"queued"}',
 '{"status":"success","message":"Request received and processed.","ticketId":2,"agent":null,"state":"queued"}']



=== TEST 13: a chunked body that grows over client_max_body_size is a JSON 413
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- raw_request eval
main::raw_chunked('', '/api/service',
    unpack '(a30)*', '{"userId":"u","issue":"' . ('x' x 76) . '"}')
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"error","error":"body_too_large","message":"the body is larger than client_max_body_size"}
--- error_log
client intended to send too large chunked body



=== TEST 14: a broken chunked body is a JSON 400 bad_request
--- raw_request eval
main::head('/api/service', "Content-Type: application/json\r\n"
                           . "Transfer-Encoding: chunked\r\n\r\n")
. "5\r\n{\"use\r\nzz\r\nrId\":\"u\"}\r\n0\r\n\r\n"
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"error","error":"bad_request","message":"the request is malformed"}
--- error_log
client sent invalid chunked body



=== TEST 15: nginx's own 413 and 400 carry the CORS headers for a listed Origin
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
    cs_cors_origin https://app.example;
}
--- request eval
my $big = '{"userId":"u","issue":"' . ('x' x 76) . '"}';
["POST /api/service\n$big",
 "POST /api/service\n" . main::chunks(unpack '(a30)*', $big),
 "POST /api/service\n5\r\n{\"use\r\nzz\r\n0\r\n\r\n"]
--- more_headers eval
["Content-Type: application/json\nOrigin: https://app.example",
 ("Content-Type: application/json\nOrigin: https://app.example\nTransfer-Encoding: chunked") x 2]
--- error_code eval
[413, 413, 400]
--- response_headers eval
[("Content-Type: application/json\nAccess-Control-Allow-Origin: https://app.example\nVary: Origin\nAccess-Control-Expose-Headers: Retry-After") x 3]
--- response_body eval
[('{"status":"error","error":"body_too_large","message":"the body is larger than client_max_body_size"}') x 2,
 '{"status":"error","error":"bad_request","message":"the request is malformed"}']



=== TEST 16: an Origin that is not listed gets no CORS headers on the 413, only Vary: Origin
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
    cs_cors_origin https://app.example;
}
--- request eval
"POST /api/service\n" . '{"userId":"u","issue":"' . ('x' x 76) . '"}'
--- more_headers
Content-Type: application/json
Origin: https://evil.example
--- error_code: 413
--- response_headers
Content-Type: application/json
!Access-Control-Allow-Origin
Vary: Origin
!Access-Control-Expose-Headers
--- response_body chomp
{"status":"error","error":"body_too_large","message":"the body is larger than client_max_body_size"}



=== TEST 17: an oversize declared body with Expect: 100-continue gets the 413 at once, no 100 Continue
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- request eval
"POST /api/service\n" . '{"userId":"u","issue":"' . ('x' x 76) . '"}'
--- more_headers
Content-Type: application/json
Expect: 100-continue
--- error_code: 413
--- response_body chomp
{"status":"error","error":"body_too_large","message":"the body is larger than client_max_body_size"}



=== TEST 18: after a 415 on keep-alive the next request is answered; the rejected body never runs
--- pipelined_requests eval
["POST /api/service\n" . main::smuggled(),
 "POST /api/service\n" . '{"userId":"next","issue":"after 415"}']
--- more_headers eval
["Content-Type: text/plain", "Content-Type: application/json"]
--- error_code eval
[415, 201]
--- response_body eval
['{"status":"error","error":"unsupported_media_type","message":"the body must be sent as Content-Type: application/json"}',
 '{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}']



=== TEST 19: after a 415 for a chunked body the next request is answered; the chunks never run
--- pipelined_requests eval
["POST /api/service\n" . main::chunks(unpack '(a40)*', main::smuggled()),
 "POST /api/service\n" . '{"userId":"next","issue":"after chunked 415"}']
--- more_headers eval
["Content-Type: text/plain\nTransfer-Encoding: chunked", "Content-Type: application/json"]
--- error_code eval
[415, 201]
--- response_body_like eval
['^\{"status":"error","error":"unsupported_media_type",', '^\{"status":"success",.*"ticketId":1,']



=== TEST 20: after a 400 invalid_json on keep-alive the next request is answered; the body never runs
--- pipelined_requests eval
["POST /api/service\n" . main::smuggled(),
 "POST /api/service\n" . '{"userId":"next","issue":"after 400"}']
--- more_headers eval
[("Content-Type: application/json") x 2]
--- error_code eval
[400, 201]
--- response_body_like eval
['^\{"status":"error","error":"invalid_json","message":"[^"]+ at byte 0"\}$',
 '^\{"status":"success",.*"ticketId":1,']



=== TEST 21: after a 400 invalid_idempotency_key on keep-alive the next request is answered
--- pipelined_requests eval
["POST /api/service\n" . main::smuggled(),
 "POST /api/service\n" . '{"userId":"next","issue":"after bad key"}']
--- more_headers eval
["Content-Type: application/json\nIdempotency-Key:", "Content-Type: application/json"]
--- error_code eval
[400, 201]
--- response_body_like eval
['^\{"status":"error","error":"invalid_idempotency_key",', '^\{"status":"success",.*"ticketId":1,']



=== TEST 22: after a declared-length 413 nginx closes: neither the body nor the next request runs
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- raw_request eval
my $s = main::smuggled() . main::smuggled();
"POST /api/service HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
. "Content-Length: " . length($s) . "\r\n\r\n" . $s . main::smuggled()
--- error_code: 413
--- response_headers
Connection: close
--- response_body chomp
{"status":"error","error":"body_too_large","message":"the body is larger than client_max_body_size"}



=== TEST 23: after a chunked 413 nginx closes: neither the rest of the body nor the next request runs
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- raw_request eval
"POST /api/service HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
. "Transfer-Encoding: chunked\r\n\r\n" . main::chunks(unpack '(a60)*', main::smuggled())
. main::smuggled()
--- error_code: 413
--- response_headers
Connection: close
--- response_body_like: ^\{"status":"error","error":"body_too_large",



=== TEST 24: after a broken chunked body nginx closes: the bytes after it never run
--- raw_request eval
"POST /api/service HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
. "Transfer-Encoding: chunked\r\n\r\nzz\r\n" . main::smuggled() . main::smuggled()
--- error_code: 400
--- response_headers
Connection: close
--- response_body chomp
{"status":"error","error":"bad_request","message":"the request is malformed"}



=== TEST 25: a Content-Length that promises more than is sent only times out; nothing is written and the next request is served
--- request eval
["POST /api/service\n" . '{"userId":"u","issue":"cut short"}',
 "POST /api/service\n" . '{"userId":"next","issue":"after the stall"}']
--- more_headers eval
["Content-Type: application/json\nContent-Length: 200", "Content-Type: application/json"]
--- timeout: 1
--- abort
--- error_code eval
['', 201]
--- response_body_like eval
['^$', '^\{"status":"success",.*"ticketId":1,']
--- no_error_log
[error]
[alert]
[crit]
[emerg]



=== TEST 26: a PUT with an oversize declared body is 405, as method comes before size
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- request eval
"PUT /api/service\n" . '{"userId":"u","issue":"' . ('x' x 76) . '"}'
--- error_code: 405
--- response_headers
Allow: POST
--- response_body_like: ^\{"status":"error","error":"method_not_allowed",



=== TEST 27: a text/plain oversize declared body is 415, as content type comes before size
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- request eval
"POST /api/service\n" . '{"userId":"u","issue":"' . ('x' x 76) . '"}'
--- more_headers
Content-Type: text/plain
--- error_code: 415
--- response_body_like: ^\{"status":"error","error":"unsupported_media_type",



=== TEST 28: a text/plain oversize chunked body is 415: content type before size
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- raw_request eval
main::head('/api/service', "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
. main::chunks(unpack '(a30)*', '{"userId":"u","issue":"' . ('x' x 76) . '"}')
--- error_code: 415
--- response_body_like: ^\{"status":"error","error":"unsupported_media_type",



=== TEST 29: an oversize chunked body with a malformed Idempotency-Key is 413, as size comes first
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- raw_request eval
main::raw_chunked("Idempotency-Key: \x01\r\n", '/api/service',
    unpack '(a30)*', '{"userId":"u","issue":"' . ('x' x 76) . '"}')
--- error_code: 413
--- response_body_like: ^\{"status":"error","error":"body_too_large",



=== TEST 30: an oversize declared body with a malformed Idempotency-Key is 413: size first
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    client_max_body_size 100;
}
--- raw_request eval
main::raw_post("Idempotency-Key: \x01\r\n", '{"userId":"u","issue":"' . ('x' x 76) . '"}')
--- error_code: 413
--- response_body_like: ^\{"status":"error","error":"body_too_large",
