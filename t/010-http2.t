# The same intake over HTTP/2 (h2c, prior knowledge): nginx hands the body
# to the module through the same request-body API.  curl is the client,
# since Test::Nginx::Socket speaks HTTP/1.x.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;

redis_start();
$ENV{TEST_NGINX_H2_PORT} ||= CsTest::free_port();

sub curl_h2 {
    my (@args) = @_;
    my $out = `curl -s --http2-prior-knowledge -o - -w '\\n%{http_version} %{http_code}' @args 2>&1`;
    my ($body, $proto, $status) = $out =~ /^(.*)\n(\S+) (\d+)$/s;
    return ($proto // '', $status // 0, $body // $out);
}

# nginx answers a declared length over client_max_body_size at once and
# ends the stream with RST_STREAM(NO_ERROR) while the client may still be
# sending.  RFC 9113 (8.1) says the client keeps that answer; Debian's
# curl 7.88 drops it with "Stream error in the HTTP/2 framing layer" when
# the reset overtakes its upload, so this one request goes through nghttp.
sub nghttp_post {
    my ($url, $file) = @_;
    my $out = `nghttp -v --data=$file -H 'content-type: application/json' $url 2>&1`;
    my ($status) = $out =~ /recv \(stream_id=\d+\) :status: (\d+)/;
    my ($body) = $out =~ /(\{"status".*?\})(?:\[|\s*$)/s;
    return ($status // 0, $body // $out);
}

add_response_body_check(sub {
    my ($block) = @_;
    my $name = $block->name;
    my $url = "http://127.0.0.1:$ENV{TEST_NGINX_H2_PORT}/api/service";

    my ($proto, $status, $body) = curl_h2(
        q{-H 'Content-Type: application/json' -H 'Idempotency-Key: h2-key'},
        q{--data-binary '{"userId":"h2user","issue":"over HTTP/2"}'}, $url);
    Test::More::is("$proto $status", '2 201', "$name - HTTP/2 201");
    Test::More::like($body, qr/^\{"status":"success","message":"Request received and processed\.","ticketId":(\d+),"agent":"agent1","state":"assigned"\}$/,
                     "$name - HTTP/2 body");
    my ($id) = $body =~ /"ticketId":(\d+)/;
    my $t = ticket($id // 0);
    Test::More::is($t->{issue}, 'over HTTP/2', "$name - stored over HTTP/2");

    # the same retry over HTTP/2 is answered from the idempotency record
    my (undef, $again, $body2) = curl_h2(
        q{-H 'Content-Type: application/json' -H 'Idempotency-Key: h2-key'},
        q{--data-binary '{"issue":"over HTTP/2","userId":"h2user"}'}, $url);
    Test::More::is("$again $body2", "201 $body", "$name - HTTP/2 retry is the same answer");

    # errors are JSON over HTTP/2 too, nginx's own 413 included
    require File::Temp;
    my $fh = File::Temp->new(SUFFIX => '.json');
    print $fh '{"userId":"h2user","issue":"' . ('x' x 2000) . '"}';
    close $fh;
    my $big = $fh->filename;
    ($status, $body) = nghttp_post($url, $big);
    Test::More::is($status, 413, "$name - HTTP/2 413");
    Test::More::like($body, qr/"error":"body_too_large"/, "$name - HTTP/2 413 is JSON");

    (undef, $status, $body) = curl_h2('-X GET', $url);
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
