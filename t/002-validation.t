# The contract's 4xx answers for a ticket body, in DESIGN's order of
# precedence (Idempotency-Key form, JSON syntax, schema), each with its exact
# JSON answer, and what a rejection leaves in Redis: nothing.  The bodies
# that are accepted are checked against what Redis holds, field by field,
# with JSON::PP decoding the sent body as the reference.
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
        unless defined $block->more_headers || defined $block->raw_request;

    # each block starts from an empty Redis (init runs once nginx is up)
    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;

    # a client's mistake is not a server fault
    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n[emerg]")
        unless defined $block->no_error_log;
});


# a whole POST /api/service with its Content-Length, for raw_request
sub raw_post {
    my ($headers, $body) = @_;
    return "POST /api/service HTTP/1.1\r\nHost: localhost\r\n"
         . "Connection: close\r\nContent-Type: application/json\r\n"
         . $headers . "Content-Length: " . length($body) . "\r\n\r\n"
         . $body;
}


check_stored_tickets();

run_tests();

__DATA__

=== TEST 1: a body that is not JSON is 400 invalid_json, without a field
--- request
POST /api/service
hello
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"status":"error","error":"invalid_json","message":"[^"]+ at byte 0"\}$



=== TEST 2: an array, a string, a number, true or null at the root is not an object
--- request eval
[map { "POST /api/service\n$_" } '[{"userId":"u","issue":"x"}]', '"text"', '42',
 'true', 'null']
--- error_code eval
[400, 400, 400, 400, 400]
--- response_body_like eval
[('^\{"status":"error","error":"invalid_json","message":"the body must be a JSON object at byte 0"\}$') x 5]



=== TEST 3: an empty body, with or without Content-Length: 0, is invalid JSON at byte 0
--- request eval
["POST /api/service", "POST /api/service"]
--- more_headers eval
["Content-Type: application/json", "Content-Type: application/json\nContent-Length: 0"]
--- error_code eval
[400, 400]
--- response_body eval
[('{"status":"error","error":"invalid_json","message":"the body is empty at byte 0"}') x 2]



=== TEST 4: a body that ends early says where it ended (blanks only, an open object)
--- request eval
["POST /api/service\n \r\n", 'POST /api/service
{"userId":"u"']
--- more_headers eval
["Content-Type: application/json\nContent-Length: 3", "Content-Type: application/json"]
--- error_code eval
[400, 400]
--- response_body eval
['{"status":"error","error":"invalid_json","message":"premature end of the body at byte 3"}',
 '{"status":"error","error":"invalid_json","message":"premature end of the body at byte 13"}']



=== TEST 5: bytes after the object (a word, a second object, a comma) are trailing garbage
--- request eval
[map { "POST /api/service\n" . '{"userId":"u","issue":"x"}' . $_ } ' x', '{}', ',']
--- error_code eval
[400, 400, 400]
--- response_body eval
[map { '{"status":"error","error":"invalid_json","message":"trailing garbage at byte ' . $_ . '"}' }
 27, 26, 26]



=== TEST 6: a duplicate top-level key is invalid JSON, even with two good values
--- request
POST /api/service
{"userId":"u1","issue":"x","userId":"u2"}
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"duplicate key in an object at byte 34"}



=== TEST 7: a duplicate key in a nested object is invalid JSON, not an unknown field
--- request
POST /api/service
{"userId":"u","issue":"x","meta":{"a":1,"b":{"c":2},"a":3}}
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"duplicate key in an object at byte 54"}



=== TEST 8: a key is compared decoded: "\u0075serId" repeats userId
--- request
POST /api/service
{"userId":"u1","issue":"x","\u0075serId":"u2"}
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"duplicate key in an object at byte 39"}



=== TEST 9: the same key in different objects is no duplicate
--- request
POST /api/service
{"meta":{"a":1,"b":{"a":2}},"more":{"a":3},"userId":"u","issue":"x"}
--- error_code: 422
--- response_body chomp
{"status":"error","error":"unknown_field","message":"unknown field","field":"meta"}



=== TEST 10: nesting deeper than 32 levels is invalid JSON (arrays and objects)
--- request eval
["POST /api/service\n" . '{"userId":' . ('[' x 32) . (']' x 32) . ',"issue":"x"}',
 "POST /api/service\n" . '{"x":' . ('{"a":' x 32) . '1' . ('}' x 32) . '}']
--- error_code eval
[400, 400]
--- response_body eval
['{"status":"error","error":"invalid_json","message":"nesting is deeper than 32 levels at byte 41"}',
 '{"status":"error","error":"invalid_json","message":"nesting is deeper than 32 levels at byte 160"}']



=== TEST 11: 32 levels are valid JSON, so the schema answers: fields must be strings
--- request eval
["POST /api/service\n" . '{"userId":' . ('[' x 31) . (']' x 31) . ',"issue":"x"}',
 "POST /api/service\n" . '{"x":' . ('{"a":' x 31) . '1' . ('}' x 31) . '}']
--- error_code eval
[422, 422]
--- response_body eval
['{"status":"error","error":"invalid_field","message":"the value must be a string","field":"userId"}',
 '{"status":"error","error":"unknown_field","message":"unknown field","field":"x"}']



=== TEST 12: a truncated multibyte character is invalid UTF-8, at the byte that breaks it
--- request eval
"POST /api/service\n" . qq{{"userId":"ab\xc3","issue":"x"}}
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 14"}



=== TEST 13: overlong encodings (C0 AF, E0 80 AF) are invalid UTF-8
--- request eval
["POST /api/service\n" . qq{{"userId":"\xc0\xaf","issue":"x"}},
 "POST /api/service\n" . qq{{"userId":"\xe0\x80\xaf","issue":"x"}}]
--- error_code eval
[400, 400]
--- response_body eval
['{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 11"}',
 '{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 12"}']



=== TEST 14: an encoded surrogate (ED A0 80) is invalid UTF-8
--- request eval
"POST /api/service\n" . qq{{"userId":"u","issue":"a\xed\xa0\x80"}}
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 25"}



=== TEST 15: code points over U+10FFFF (F4 90 80 80, lead byte F5) are invalid UTF-8
--- request eval
["POST /api/service\n" . qq{{"userId":"\xf4\x90\x80\x80","issue":"x"}},
 "POST /api/service\n" . qq{{"userId":"\xf5\x80\x80\x80","issue":"x"}}]
--- error_code eval
[400, 400]
--- response_body eval
['{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 12"}',
 '{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 11"}']



=== TEST 16: a raw control character (0x01, a tab) in a string value or key is invalid JSON
--- request eval
["POST /api/service\n" . qq{{"userId":"\x01","issue":"x"}},
 "POST /api/service\n" . qq{{"userId":"u","issue":"a\tb"}},
 "POST /api/service\n" . qq{{"user\x1fId":"u","issue":"x"}}]
--- error_code eval
[400, 400, 400]
--- response_body eval
['{"status":"error","error":"invalid_json","message":"control character in a string at byte 11"}',
 '{"status":"error","error":"invalid_json","message":"control character in a string at byte 24"}',
 '{"status":"error","error":"invalid_json","message":"control character in a string at byte 6"}']



=== TEST 17: a lone high surrogate escape \uD800 is rejected
--- request
POST /api/service
{"userId":"\uD800","issue":"x"}
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"unpaired surrogate escape in a string at byte 17"}



=== TEST 18: a lone low surrogate escape \uDC00 is rejected
--- request
POST /api/service
{"userId":"u","issue":"a\udc00"}
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"unpaired surrogate escape in a string at byte 29"}



=== TEST 19: a high surrogate followed by no low one (\u0041, a letter, another high) is rejected
--- request eval
[map { "POST /api/service\n" . '{"userId":"\uD800' . $_ . '","issue":"x"}' }
 '\u0041', 'x', '\uD800']
--- error_code eval
[400, 400, 400]
--- response_body eval
['{"status":"error","error":"invalid_json","message":"unpaired surrogate escape in a string at byte 22"}',
 '{"status":"error","error":"invalid_json","message":"unpaired surrogate escape in a string at byte 17"}',
 '{"status":"error","error":"invalid_json","message":"unpaired surrogate escape in a string at byte 22"}']



=== TEST 20: \u0000 in a string is rejected
--- request
POST /api/service
{"userId":"u\u0000","issue":"x"}
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"\\u0000 in a string at byte 17"}



=== TEST 21: invalid UTF-8 in a key or deep inside an unknown field is 400, not 422
--- request eval
["POST /api/service\n" . qq{{"k\xff":1,"userId":"u","issue":"x"}},
 "POST /api/service\n" . qq{{"meta":["ok",{"a":"\xc0\xaf"}],"userId":"u","issue":"x"}}]
--- error_code eval
[400, 400]
--- response_body eval
['{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 3"}',
 '{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 20"}']



=== TEST 22: a UTF-8 byte order mark before the object is invalid JSON
--- request eval
"POST /api/service\n\xef\xbb\xbf" . '{"userId":"u","issue":"x"}'
--- error_code: 400
--- response_body_like: ^\{"status":"error","error":"invalid_json","message":"[^"]+ at byte 0"\}$



=== TEST 23: a number out of any range (1e999, 40 digits) is still JSON: the schema answers
--- request eval
[map { "POST /api/service\n" . $_ }
 '{"x":1e999,"userId":"u","issue":"x"}',
 '{"userId":1234567890123456789012345678901234567890,"issue":"x"}',
 '{"userId":"u","issue":-1e-999}']
--- error_code eval
[422, 422, 422]
--- response_body eval
['{"status":"error","error":"unknown_field","message":"unknown field","field":"x"}',
 '{"status":"error","error":"invalid_field","message":"the value must be a string","field":"userId"}',
 '{"status":"error","error":"invalid_field","message":"the value must be a string","field":"issue"}']



=== TEST 24: the byte offset names the offending byte (0-based) whether yajl or the UTF-8 scan finds it
--- request eval
[map { "POST /api/service\n" . $_ }
 '{"userId":"u","issue":"x"}x', '[1]', '{"userId":x}', qq{{"userId":"\x01"}}]
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
['^\{"status":"error","error":"invalid_json","message":"trailing garbage at byte 26"\}$',
 '^\{"status":"error","error":"invalid_json","message":"the body must be a JSON object at byte 0"\}$',
 '^\{"status":"error","error":"invalid_json","message":"[^"]+ at byte 10"\}$',
 '^\{"status":"error","error":"invalid_json","message":"control character in a string at byte 11"\}$']



=== TEST 25: missing fields are named userId first, then issue
--- request eval
[map { "POST /api/service\n" . $_ } '{}', '{"issue":"x"}', '{"userId":"u"}',
 '{"channel":"web","priority":"low"}']
--- error_code eval
[422, 422, 422, 422]
--- response_body eval
['{"status":"error","error":"missing_field","message":"a required field is missing","field":"userId"}',
 '{"status":"error","error":"missing_field","message":"a required field is missing","field":"userId"}',
 '{"status":"error","error":"missing_field","message":"a required field is missing","field":"issue"}',
 '{"status":"error","error":"missing_field","message":"a required field is missing","field":"userId"}']



=== TEST 26: userId must be 1 to 128 bytes (empty, 129 ASCII, 65 two-byte characters)
--- request eval
[map { "POST /api/service\n" . '{"userId":"' . $_ . '","issue":"x"}' }
 '', 'u' x 129, "\xc3\xa9" x 65]
--- error_code eval
[422, 422, 422]
--- response_body eval
[('{"status":"error","error":"invalid_field","message":"userId must be 1 to 128 bytes","field":"userId"}') x 3]



=== TEST 27: a userId of exactly 128 bytes (64 two-byte characters) is accepted
--- request eval
"POST /api/service\n" . '{"userId":"' . ("\xc3\xa9" x 64) . '","issue":"x"}'
--- error_code: 201
--- response_body_like: ^\{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"\}$



=== TEST 28: userId must not hold control characters (escaped C0, DEL, C1)
--- request eval
[map { "POST /api/service\n" . '{"userId":"u' . $_ . '","issue":"x"}' }
 '\u0001', "\x7f", '\u007f', "\xc2\x85", '\u009f']
--- error_code eval
[422, 422, 422, 422, 422]
--- response_body eval
[('{"status":"error","error":"invalid_field","message":"userId must not contain control characters","field":"userId"}') x 5]



=== TEST 29: issue must not be blank (empty, spaces, escaped tab and newlines)
--- request eval
[map { "POST /api/service\n" . '{"userId":"u","issue":"' . $_ . '"}' }
 '', '   ', ' \t\r\n ']
--- error_code eval
[422, 422, 422]
--- response_body eval
[('{"status":"error","error":"invalid_field","message":"issue must not be blank","field":"issue"}') x 3]



=== TEST 30: issue one byte over cs_issue_max_length is rejected, counted in bytes
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
    cs_issue_max_length 16;
}
--- request eval
[map { "POST /api/service\n" . '{"userId":"u","issue":"' . $_ . '"}' }
 'x' x 17, "\xc3\xa9" x 9, ('x' x 15) . "\xc3\xa9", '\u00e9' x 9]
--- error_code eval
[422, 422, 422, 422]
--- response_body eval
[('{"status":"error","error":"invalid_field","message":"issue is longer than the configured maximum","field":"issue"}') x 4]



=== TEST 31: issue exactly at cs_issue_max_length is accepted (ASCII, raw and escaped UTF-8)
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
    cs_issue_max_length 16;
}
--- request eval
[map { "POST /api/service\n" . '{"userId":"u","issue":"' . $_ . '"}' }
 'x' x 16, "\xc3\xa9" x 8, '\u00e9' x 8]
--- error_code eval
[201, 201, 201]
--- response_body_like eval
['"ticketId":1,', '"ticketId":2,', '"ticketId":3,']



=== TEST 32: category must be 1 to 64 of [a-z0-9_-] (uppercase, 65, empty, space, accent)
--- request eval
[map { "POST /api/service\n" . '{"userId":"u","issue":"x","category":"' . $_ . '"}' }
 'Billing', 'a' x 65, '', 'a b', "caf\xc3\xa9"]
--- error_code eval
[422, 422, 422, 422, 422]
--- response_body eval
[('{"status":"error","error":"invalid_field","message":"category must be 1 to 64 characters of [a-z0-9_-]","field":"category"}') x 5]



=== TEST 33: a category of 64 characters of [a-z0-9_-] is accepted and stored
--- request eval
"POST /api/service\n" . '{"userId":"u","issue":"x","category":"' . ('az09_-' x 10) . 'abcd"}'
--- error_code: 201
--- response_body_like: ^\{"status":"success",.*"ticketId":1,



=== TEST 34: priority must be low, normal, high or urgent
--- request eval
[map { "POST /api/service\n" . '{"userId":"u","issue":"x","priority":"' . $_ . '"}' }
 'URGENT', '', 'critical', ' low']
--- error_code eval
[422, 422, 422, 422]
--- response_body eval
[('{"status":"error","error":"invalid_field","message":"priority must be one of low, normal, high, urgent","field":"priority"}') x 4]



=== TEST 35: channel must be web, email, chat, social, phone or api
--- request eval
[map { "POST /api/service\n" . '{"userId":"u","issue":"x","channel":"' . $_ . '"}' }
 'fax', 'Web', '', 'api ']
--- error_code eval
[422, 422, 422, 422]
--- response_body eval
[('{"status":"error","error":"invalid_field","message":"channel must be one of web, email, chat, social, phone, api","field":"channel"}') x 4]



=== TEST 36: email needs one @ between a name and a domain, at most 254 bytes, no spaces
--- request eval
[map { "POST /api/service\n" . '{"userId":"u","issue":"x","email":"' . $_ . '"}' }
 'user.example.com', 'a@b@example.com', '@example.com', 'user@', '',
 ('a' x 64) . '@' . ('b' x 190), 'a b@example.com']
--- error_code eval
[422, 422, 422, 422, 422, 422, 422]
--- response_body eval
[('{"status":"error","error":"invalid_field","message":"email must contain one @ between a name and a domain","field":"email"}') x 5,
 '{"status":"error","error":"invalid_field","message":"email must be at most 254 bytes","field":"email"}',
 '{"status":"error","error":"invalid_field","message":"email must not contain spaces or control characters","field":"email"}']



=== TEST 37: an email of exactly 254 bytes is accepted and stored
--- request eval
"POST /api/service\n" . '{"userId":"u","issue":"x","email":"' . ('a' x 64) . '@' . ('b' x 189) . '"}'
--- error_code: 201
--- response_body_like: ^\{"status":"success",.*"ticketId":1,



=== TEST 38: every field must be a string: a number, null, true, an object or an array is not
--- request eval
[map { "POST /api/service\n" . $_ }
 '{"userId":42,"issue":"x"}',
 '{"userId":"u","issue":null}',
 '{"userId":"u","issue":"x","category":{"a":"b"}}',
 '{"userId":"u","issue":"x","priority":["high"]}',
 '{"userId":"u","issue":"x","channel":true}',
 '{"userId":"u","issue":"x","email":1e999}']
--- error_code eval
[422, 422, 422, 422, 422, 422]
--- response_body eval
[map { '{"status":"error","error":"invalid_field","message":"the value must be a string","field":"' . $_ . '"}' }
 qw(userId issue category priority channel email)]



=== TEST 39: an unknown field is 422 naming it, even with a string value
--- request
POST /api/service
{"userId":"u","issue":"x","subject":"hello"}
--- error_code: 422
--- response_body chomp
{"status":"error","error":"unknown_field","message":"unknown field","field":"subject"}



=== TEST 40: a long unknown field name is cut to 128 bytes at a character boundary
--- request eval
["POST /api/service\n" . '{"' . ('k' x 200) . '":1}',
 "POST /api/service\n" . '{"a' . ("\xc3\xa9" x 100) . '":1}']
--- error_code eval
[422, 422]
--- response_body eval
['{"status":"error","error":"unknown_field","message":"unknown field","field":"' . ('k' x 128) . '"}',
 '{"status":"error","error":"unknown_field","message":"unknown field","field":"a' . ("\xc3\xa9" x 63) . '"}']



=== TEST 41: the first field at fault in body order answers
--- request eval
[map { "POST /api/service\n" . $_ }
 '{"issue":"","userId":""}',
 '{"userId":"","issue":""}',
 '{"zzz":1,"userId":""}',
 '{"userId":"","zzz":1}',
 '{"channel":"fax","priority":"x","userId":"u"}']
--- error_code eval
[422, 422, 422, 422, 422]
--- response_body eval
['{"status":"error","error":"invalid_field","message":"issue must not be blank","field":"issue"}',
 '{"status":"error","error":"invalid_field","message":"userId must be 1 to 128 bytes","field":"userId"}',
 '{"status":"error","error":"unknown_field","message":"unknown field","field":"zzz"}',
 '{"status":"error","error":"invalid_field","message":"userId must be 1 to 128 bytes","field":"userId"}',
 '{"status":"error","error":"invalid_field","message":"channel must be one of web, email, chat, social, phone, api","field":"channel"}']



=== TEST 42: a syntax error after a schema error wins: 400, not 422
--- request eval
[map { "POST /api/service\n" . $_ }
 '{"zzz":1,"userId":"u","issue":"x"} x',
 qq{{"userId":"","issue":"\xc0\xaf"}},
 '{"issue":"x"',
 '{"userId":42,"issue":"x","userId":"u"}']
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
['^\{"status":"error","error":"invalid_json","message":"trailing garbage at byte 35"\}$',
 '^\{"status":"error","error":"invalid_json","message":"invalid UTF-8 in a string at byte 22"\}$',
 '^\{"status":"error","error":"invalid_json","message":"premature end of the body at byte 12"\}$',
 '^\{"status":"error","error":"invalid_json","message":"duplicate key in an object at byte 32"\}$']



=== TEST 43: an empty Idempotency-Key is 400 invalid_idempotency_key
--- request
POST /api/service
{"userId":"u","issue":"x"}
--- more_headers
Content-Type: application/json
Idempotency-Key:
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"error","error":"invalid_idempotency_key","message":"Idempotency-Key must be one header of 1 to 128 printable ASCII characters"}



=== TEST 44: an Idempotency-Key of 129 characters is too long
--- request
POST /api/service
{"userId":"u","issue":"x"}
--- more_headers eval
"Content-Type: application/json\nIdempotency-Key: " . ('k' x 129)
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_idempotency_key","message":"Idempotency-Key must be one header of 1 to 128 printable ASCII characters"}



=== TEST 45: an Idempotency-Key of 128 printable characters is accepted and kept
--- request
POST /api/service
{"userId":"u","issue":"x"}
--- more_headers eval
"Content-Type: application/json\nIdempotency-Key: " . ('k~ !' x 32)
--- error_code: 201
--- response_body_like: ^\{"status":"success",.*"ticketId":1,



=== TEST 46: a non-ASCII Idempotency-Key is rejected
--- raw_request eval
main::raw_post("Idempotency-Key: caf\xc3\xa9\r\n", '{"userId":"u","issue":"x"}')
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_idempotency_key","message":"Idempotency-Key must be one header of 1 to 128 printable ASCII characters"}



=== TEST 47: an Idempotency-Key with a control byte is rejected
--- raw_request eval
main::raw_post("Idempotency-Key: ab\x01cd\r\n", '{"userId":"u","issue":"x"}')
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_idempotency_key","message":"Idempotency-Key must be one header of 1 to 128 printable ASCII characters"}



=== TEST 48: an Idempotency-Key with a tab inside is rejected
--- raw_request eval
main::raw_post("Idempotency-Key: ab\tcd\r\n", '{"userId":"u","issue":"x"}')
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_idempotency_key","message":"Idempotency-Key must be one header of 1 to 128 printable ASCII characters"}



=== TEST 49: an Idempotency-Key with DEL is rejected
--- raw_request eval
main::raw_post("Idempotency-Key: abcd\x7f\r\n", '{"userId":"u","issue":"x"}')
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_idempotency_key","message":"Idempotency-Key must be one header of 1 to 128 printable ASCII characters"}



=== TEST 50: two Idempotency-Key headers are rejected, even when equal
--- request
POST /api/service
{"userId":"u","issue":"x"}
--- more_headers
Content-Type: application/json
Idempotency-Key: key-1
Idempotency-Key: key-1
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_idempotency_key","message":"Idempotency-Key must be one header of 1 to 128 printable ASCII characters"}



=== TEST 51: 405 and 415 come before a malformed Idempotency-Key
--- request eval
["GET /api/service", "POST /api/service\n{\"userId\":\"u\",\"issue\":\"x\"}"]
--- more_headers eval
["Idempotency-Key:", "Content-Type: text/plain\nIdempotency-Key:"]
--- error_code eval
[405, 415]
--- response_body_like eval
['^\{"status":"error","error":"method_not_allowed",', '^\{"status":"error","error":"unsupported_media_type",']



=== TEST 52: a malformed Idempotency-Key comes before JSON and schema errors
--- request eval
[map { "POST /api/service\n" . $_ } 'not json', qq{{"userId":"\xc0"}}, '{}',
 '{"zzz":1}']
--- more_headers
Content-Type: application/json
Idempotency-Key:
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
[('{"status":"error","error":"invalid_idempotency_key","message":"Idempotency-Key must be one header of 1 to 128 printable ASCII characters"}') x 4]



=== TEST 53: escapes are stored decoded (\n, \", \\, \/, \t, \u00e9, a surrogate pair)
--- request
POST /api/service
{"userId":"u\"1\/x","issue":"line1\nline2 \"q\" \\ \/ \t \u00e9 \u00E9 \ud83d\ude00 \u20ac end"}
--- error_code: 201
--- response_body_like: ^\{"status":"success",.*"ticketId":1,



=== TEST 54: whitespace is allowed everywhere around the tokens
--- raw_request eval
main::raw_post('', " \r\n\t{ \"userId\" :\t\"u\" ,\r\n  \"issue\"\n:\n\"x y\"\t,\"priority\" : \"high\" }\r\n\t ")
--- error_code: 201
--- response_body_like: ^\{"status":"success",.*"ticketId":1,



=== TEST 55: key order is free, and every optional field is stored
--- request
POST /api/service
{"email":"a@example.com","channel":"email","priority":"urgent","category":"billing-2_x","issue":"Refund please","userId":"user-9"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}



=== TEST 56: field names written with escapes are the fields themselves
--- request
POST /api/service
{"\u0075serId":"u","\u0069ssue":"x","pri\u006frity":"low"}
--- error_code: 201
--- response_body_like: ^\{"status":"success",.*"ticketId":1,
