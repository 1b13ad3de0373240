# The same intake over HTTP/2 (h2c, prior knowledge): nginx hands the body
# to the module through the same request-body API.  nghttp is the client,
# since Test::Nginx::Socket speaks HTTP/1.x.  Not curl: nginx answers 413
# before the body arrives and then resets the stream with NO_ERROR, which
# RFC 9113 (8.1) allows and says clients must not take as a reason to
# discard the answer; curl 7.88 discards it whenever it had not finished
# sending the body, so the 413 checks failed at random, about one run in
# two when t/010 runs alone.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use File::Temp ();
use JSON::PP ();

redis_start();
$ENV{TEST_NGINX_H2_PORT} ||= CsTest::free_port();

add_response_body_check(sub {
    my ($block) = @_;
    my $name = $block->name;
    my $url = "http://127.0.0.1:$ENV{TEST_NGINX_H2_PORT}/api/service";
    my %json = ('Content-Type' => 'application/json');

    my ($proto, $status, $body) = CsTest::h2($url,
        '{"userId":"h2user","issue":"over HTTP/2"}',
        %json, 'Idempotency-Key' => 'h2-key');
    Test::More::is("$proto $status", 'HTTP/2.0 201', "$name - HTTP/2 201");
    Test::More::like($body, qr/^\{"status":"success","message":"Request received and processed\.","ticketId":(\d+),"agent":"agent1","state":"assigned"\}$/,
                     "$name - HTTP/2 body");
    my ($id) = $body =~ /"ticketId":(\d+)/;
    my $t = ticket($id // 0);
    Test::More::is($t->{issue}, 'over HTTP/2', "$name - stored over HTTP/2");

    # the same retry over HTTP/2 is answered from the idempotency record
    my (undef, $again, $body2) = CsTest::h2($url,
        '{"issue":"over HTTP/2","userId":"h2user"}',
        %json, 'Idempotency-Key' => 'h2-key');
    Test::More::is("$again $body2", "201 $body", "$name - HTTP/2 retry is the same answer");

    # errors are JSON over HTTP/2 too, nginx's own 413 included (answered
    # from the headers, before the body arrives)
    ($proto, $status, $body) = CsTest::h2($url,
        '{"userId":"h2user","issue":"' . ('x' x 2000) . '"}', %json);
    Test::More::is("$proto $status", 'HTTP/2.0 413', "$name - HTTP/2 413");
    Test::More::like($body, qr/"error":"body_too_large"/, "$name - HTTP/2 413 is JSON");

    (undef, $status, $body) = CsTest::h2($url);
    Test::More::is("$status $body", '405 {"status":"error","error":"method_not_allowed","message":"only POST is allowed here"}',
                   "$name - HTTP/2 405");
    Test::More::is(redis()->get('cs:ticket:seq'), 2,
                   "$name - two tickets: one over HTTP/1.1, one over HTTP/2");
});

run_tests();

__DATA__

=== TEST 1: HTTP/2 and HTTP/1.1 side by side
--- http_config
server {
    listen 127.0.0.1:$TEST_NGINX_H2_PORT http2;
    location = /api/service {
        cs_service;
        cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
        cs_agents agent1;
        client_max_body_size 1k;
    }
}
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- request
POST /api/service
{"userId":"h1user","issue":"over HTTP/1.1"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- no_error_log
[alert]
[crit]
