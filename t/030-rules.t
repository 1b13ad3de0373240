# Automatic answers: cs_rule's regexes are tried in order against the
# issue in the worker; the first that matches answers the ticket
# (auto_resolved, no agent, counted per rule), and "suggestions" lists up
# to three other rules: those matching the text, then, for a user proven
# by X-CS-User, those of the categories of the user's earlier tickets.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);

redis_start();

our $Admin = $CsApi::Admin;

# X-CS-User for this user id: the site's proof, under the secret's bytes
sub proof {
    open my $fh, '<', $ENV{TEST_NGINX_CS_SECRET} or die;
    my $secret = do { local $/; <$fh> };
    $secret =~ s/\n\z//;
    return encode_base64url(hmac_sha256("user:$_[0]", $secret));
}

sub names { return [ map { $_->{rule} } @{ $_[0]{suggestions} || [] } ] }

check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_rule password "(?i)pass ?word|log ?in" "Reset it at https://example.com/reset" account;
    cs_rule refund "(?i)refund|money back" "Refunds take 5 days" billing;
    cs_rule invoice "(?i)invoice" "Invoices are under Billing" billing;
    cs_rule tracking "(?i)where is my|tracking" "Track it at https://example.com/track" shipping;
    cs_rule hours "(?i)open|hours" "We are open 9 to 5";
}
location = /v1 {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
CONF
    $block->set_value('request', "GET /api/me\n") unless defined $block->request;
    $block->set_value('more_headers', "Authorization: Bearer $main::Admin")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: the first rule that matches answers: auto_resolved, no agent, the answer in the 201 and in the ticket, counted per rule; the other matching rules are suggested, in order
--- request eval
"POST /api/service\n" . '{"userId":"u1","issue":"I forgot my password and want a refund, and where is my invoice?"}'
--- more_headers
Content-Type: application/json
--- error_code: 201
--- stored
my $b = JSON::PP->new->decode($body);
is($b->{state}, 'auto_resolved', "$name - auto_resolved");
is($b->{agent}, undef, "$name - no agent");
is($b->{answer}, 'Reset it at https://example.com/reset', "$name - the first rule's answer");
is_deeply(main::names($b), [qw(refund invoice tracking)], "$name - three others that match, in order, never the one that answered");
is($b->{suggestions}[0]{answer}, 'Refunds take 5 days', "$name - each with its answer");
my $t = { $r->hgetall("cs:ticket:$b->{ticketId}") };
is($t->{state}, 'auto_resolved', "$name - stored");
is($t->{rule}, 'password', "$name - the rule");
is($t->{answer}, $b->{answer}, "$name - the answer");
is($t->{solvedAt}, $t->{createdAt}, "$name - solved when created");
ok(!exists $t->{agent}, "$name - no agent");
is($r->hget('cs:rule:password', 'answered'), 1, "$name - counted for the rule");
is($r->zscore('cs:state:auto_resolved', $b->{ticketId}), $b->{ticketId}, "$name - indexed");
is($r->zscore('cs:closing', $b->{ticketId}), $t->{solvedAt}, "$name - closes after cs_close_after");
is($r->zcard('cs:backlog'), 0, "$name - not in the backlog");
my ($st, $g) = api(GET => "tickets/$b->{ticketId}", $b->{token});
is($g->{answer}, $b->{answer}, "$name - GET tickets/{id} shows the answer");



=== TEST 2: no rule matches: routed as usual, no answer, suggestions []; a location without rules answers as v1 (no suggestions)
--- request eval
"POST /api/service\n" . '{"userId":"u2","issue":"The app crashes on start"}'
--- more_headers
Content-Type: application/json
--- error_code: 201
--- stored
my $b = JSON::PP->new->decode($body);
is($b->{state}, 'queued', "$name - queued (no agent online)");
ok(!exists $b->{answer}, "$name - no answer");
is_deeply($b->{suggestions}, [], "$name - suggestions is []");
is_deeply([ $r->keys('cs:rule:*') ], [], "$name - no rule counted");
my @v1 = CsTest::post_ticket('{"userId":"u2","issue":"The app crashes on start"}', path => '/v1');
like($v1[1], qr/^\{"status":"success","message":"Request received and processed\.","ticketId":\d+,"agent":"agent1","state":"assigned"\}$/,
     "$name - v1's body exactly where there are no rules");



=== TEST 3: a proven user's history adds the rules of its earlier tickets' categories, most recent first; an unproven claim of the same id gets none
--- stored
intake('u3', category => 'shipping', issue => 'the box is broken');
intake('u3', category => 'billing', issue => 'the charge is wrong');
my ($st, $b) = api(POST => 'service', undef, '{"userId":"u3","issue":"what are your opening hours"}',
                   { 'X-CS-User' => main::proof('u3') });
is($st, 201, "$name - 201");
is($b->{answer}, 'We are open 9 to 5', "$name - hours answers");
is_deeply(main::names($b), [qw(refund invoice tracking)],
          "$name - billing's rules (the latest ticket) then shipping's");
($st, $b) = api(POST => 'service', undef, '{"userId":"u3","issue":"what are your opening hours"}');
is_deeply($b->{suggestions}, [], "$name - without the proof: no history");
($st, $b) = api(POST => 'service', undef, '{"userId":"u3","issue":"nothing matches this"}',
                { 'X-CS-User' => main::proof('u3') });
is($b->{state}, 'queued', "$name - no match: routed");
is_deeply(main::names($b), [qw(refund invoice tracking)], "$name - still suggestions from history");



=== TEST 4: a customer's message on an auto-resolved ticket means the answer did not help: routed to an agent, and counted against the rule
--- stored
my $alice = new_agent('alice', 5);
my ($st, $b) = api(POST => 'service', undef, '{"userId":"u4","issue":"I cannot log in"}');
is($b->{state}, 'auto_resolved', "$name - answered");
my ($st2, $m) = api(POST => "tickets/$b->{ticketId}/messages", $b->{token}, '{"body":"that did not help"}');
is($st2, 201, "$name - 201");
is($m->{state}, 'assigned', "$name - routed");
is($m->{agent}, 'alice', "$name - to alice");
is($r->hget('cs:rule:password', 'reopened'), 1, "$name - counted against the rule");
is($r->hget('cs:rule:password', 'answered'), 1, "$name - answered stays 1");
ok(!defined $r->zscore('cs:closing', $b->{ticketId}), "$name - no longer closing");



=== TEST 5: an Idempotency-Key replay returns the first answer's body, answer and suggestions included
--- stored
my %h = ('Idempotency-Key' => 'r-1');
my ($st, $b) = api(POST => 'service', undef, '{"userId":"u5","issue":"refund and tracking please"}', \%h);
is($st, 201, "$name - 201");
my ($st2, $b2) = api(POST => 'service', undef, '{"userId":"u5","issue":"refund and tracking please"}', \%h);
is($st2, 201, "$name - replay 201");
is_deeply($b2, $b, "$name - the same body");
is($r->hget('cs:rule:refund', 'answered'), 1, "$name - counted once");



=== TEST 6: a list of rules at a lower level replaces the inherited one; cs_service takes rules too
--- config
cs_rule outer "(?i)hello" "Hi from the server";
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_rule inner "(?i)bye" "Bye from the location";
}
location /v1/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
location = /plain {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
    cs_rule none "x^" "never";
}
--- stored
my ($st, $b) = api(POST => 'service', undef, '{"userId":"u6","issue":"hello and bye"}');
is($b->{answer}, 'Bye from the location', "$name - the location's own list");
my @r = CsTest::post_ticket('{"userId":"u6","issue":"hello"}', path => '/v1/service');
like($r[1], qr/"answer":"Hi from the server"/, "$name - the server's list is inherited");
@r = CsTest::post_ticket('{"userId":"u6","issue":"hello"}', path => '/plain');
like($r[1], qr/"suggestions":\[\]/, "$name - cs_service takes rules too");
