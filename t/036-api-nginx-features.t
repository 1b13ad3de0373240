# nginx's own features around a cs_api location: `if` and `set`,
# limit_req, allow/deny and auth_request in the location, and HTTP/2 on
# another listener; the desk's endpoints work through them, and nginx's
# own refusals are JSON.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use JSON::PP;

redis_start();

our $Admin = $CsApi::Admin;
$ENV{TEST_NGINX_H2_PORT} ||= CsTest::free_port();

# the auth_request pass, on every call of CsApi
%CsApi::Headers = ('X-Pass' => 'yes');

check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();');
    $block->set_value('http_config', <<'CONF');
limit_req_zone $binary_remote_addr zone=desk:1m rate=1000r/s;
server {
    listen 127.0.0.1:$TEST_NGINX_H2_PORT http2;
    location /api/ {
        cs_api;
        cs_secret $TEST_NGINX_CS_SECRET;
        cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
        cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    }
}
CONF
    $block->set_value('config', <<'CONF');
location = /auth {
    internal;
    if ($http_x_pass = "yes") {
        return 204;
    }
    return 403;
}
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    set $desk_trace none;
    if ($arg_trace) {
        set $desk_trace on;
    }
    add_header X-Desk-Trace $desk_trace always;
    limit_req zone=desk burst=100 nodelay;
    limit_req_status 429;
    allow 127.0.0.1;
    deny all;
    auth_request /auth;
}
CONF
    $block->set_value('request', "GET /api/me\n");
    $block->set_value('more_headers', "Authorization: Bearer $main::Admin\nX-Pass: yes");
});

run_tests();

__DATA__

=== TEST 1: through if/set, limit_req, allow/deny and auth_request: an agent, a ticket, its life, a list; an `if` that matches keeps the desk; auth_request's refusal is JSON
--- stored
my $alice = new_agent('alice', 3);
my $t = intake('u1');
is($t->{agent}, 'alice', "$name - intake routed");
my ($st, $b) = api(POST => "tickets/$t->{ticketId}/messages", $alice, '{"body":"hello"}');
is($st, 201, "$name - a message");
($st, $b) = api(POST => "tickets/$t->{ticketId}/status", $alice, '{"state":"solved"}');
is($b->{state}, 'solved', "$name - solved");
($st, $b) = api(GET => 'tickets?state=solved&trace=1', $main::Admin);
is($st, 200, "$name - inside the `if` that matched: 200");
is_deeply([ map { $_->{ticketId} } @{ $b->{tickets} } ], [ $t->{ticketId} ], "$name - the list");
($st, $b) = api(GET => "tickets/$t->{ticketId}", $t->{token}, undef, { 'X-Pass' => 'no' });
is($st, 403, "$name - auth_request refuses: 403");
is($b->{error}, 'forbidden', "$name - as the desk's JSON");
($st, $b) = api(POST => "tickets/$t->{ticketId}/feedback", $t->{token}, '{"csat":5}');
is($st, 201, "$name - feedback");
invariants_hold($name);



=== TEST 2: HTTP/2 on another listener: the customer reads its ticket, an admin lists
--- stored
my $t = intake('h2');
my ($proto, $st, $h2body) = CsTest::h2("http://127.0.0.1:$ENV{TEST_NGINX_H2_PORT}/api/tickets/$t->{ticketId}", undef, Authorization => "Bearer $t->{token}");
is("$proto $st", 'HTTP/2.0 200', "$name - HTTP/2 200");
is(JSON::PP->new->decode($h2body)->{issue}, 'help h2', "$name - the ticket");
($proto, $st, $h2body) = CsTest::h2("http://127.0.0.1:$ENV{TEST_NGINX_H2_PORT}/api/tickets?state=queued", undef, Authorization => "Bearer $main::Admin");
is("$proto $st", 'HTTP/2.0 200', "$name - a list over HTTP/2");
is(JSON::PP->new->decode($h2body)->{tickets}[0]{ticketId}, $t->{ticketId}, "$name - holds the ticket");
