# cs_redis_user: the module logs in as a Redis 6+ ACL user, and the
# least-privilege ACL line that the README shows (taken from the README
# itself, so the two never differ) is enough for the whole desk: intake by
# cs_service and by cs_api, every endpoint, the sweep.  The same user cannot
# reach a key outside the prefix, flush, or list keys.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use HTTP::Tiny;
use Redis;
use JSON::PP;

redis_start();

our $Admin = $CsApi::Admin;
our $Password = 'acl-' . int(rand(1e9));
$ENV{TEST_NGINX_ACL_PASSWORD} = $Password;

# the README's ACL line, between its <!-- acl --> markers
sub readme_acl {
    my $root = __FILE__ =~ s{t/047-redis-acl\.t$}{}r;
    open my $fh, '<', "${root}README.md" or die "README.md: $!";
    my $text = do { local $/; <$fh> };
    my ($line) = $text =~ /<!-- acl -->\s*```\s*\n(ACL SETUSER [^\n]+)\n```/
        or die "README.md has no ACL line between <!-- acl --> markers\n";
    return $line;
}

# the line as Redis takes it: its words, the password put in
sub acl_words {
    my @w = split ' ', readme_acl();
    shift @w for 1 .. 2;    # ACL SETUSER
    return map { $_ eq '>change-me' ? ">$Password" : $_ } @w;
}

# a client logged in as the module's user
sub as_user {
    my $r = Redis->new(server => "127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT}",
                       reconnect => 0);
    $r->auth('cs', $Password);
    return $r;
}

sub denied {
    my ($code) = @_;
    my $ok = eval { $code->(); 1 };
    return !$ok && $@ =~ /NOPERM/;
}

# before nginx starts: a user changed under a live connection is cut off
CsTest::redis()->acl('setuser', acl_words());

check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();');
    $block->set_value('config', <<'CONF');
cs_redis_user cs;
cs_redis_password $TEST_NGINX_ACL_PASSWORD;
cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
location = /v1/service {
    cs_service;
    cs_agents agent1 agent2;
}
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_close_after 1s;
    cs_presence_timeout 1h;
}
location = /metrics {
    cs_metrics;
}
CONF
    $block->set_value('request', "GET /api/me\n")
        unless defined $block->request;
    $block->set_value('more_headers', "Authorization: Bearer $Admin")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: as the README's least-privilege user the desk works end to end: every endpoint, the sweep; no NOPERM anywhere
--- stored
my ($st, $b) = CsApi::api(GET => 'me', $main::Admin);
is($st, 200, "$name - GET me");

my $alice = new_agent('alice', 5);
my $bob = new_agent('bob', 5);
my $t = intake('u1', category => 'billing', email => 'u1@example.com');
is($t->{state}, 'assigned', "$name - intake by cs_api, routed");
my ($id, $tok) = @$t{qw(ticketId token)};
my $agent = $t->{agent} eq 'alice' ? $alice : $bob;
my $other = $t->{agent} eq 'alice' ? 'bob' : 'alice';
my @calls = (
    [GET => "tickets/$id", $tok, undef, 200],
    [POST => "tickets/$id/messages", $tok, '{"body":"more"}', 201],
    [POST => "tickets/$id/messages", $agent, '{"body":"on it"}', 201],
    [POST => "tickets/$id/fields", $main::Admin, '{"priority":"urgent"}', 200],
    [POST => "tickets/$id/assign", $main::Admin, qq({"agent":"$other"}), 200],
    [POST => "tickets/$id/assign", $main::Admin, '{"agent":null}', 200],
    [GET => 'tickets?state=assigned', $main::Admin, undef, 200],
    [GET => "agents/alice/queue", $alice, undef, 200],
    [GET => 'agents', $main::Admin, undef, 200],
    [PUT => 'agents/bob/presence', $bob, '{"status":"away"}', 200],
    [POST => 'agents/bob/token', $main::Admin, undef, 201],
    [PUT => 'agents/alice', $main::Admin, '{"capacity":6,"skills":["billing"]}', 200],
    [POST => "tickets/$id/status", $main::Admin, '{"state":"solved"}', 200],
    [POST => "tickets/$id/feedback", $tok, '{"csat":1,"ces":2,"comment":"no"}', 201],
    [GET => 'trends?bucket=day', $main::Admin, undef, 200],
    [GET => 'insights', $main::Admin, undef, 200],
    [DELETE => 'agents/bob', $main::Admin, undef, 200],
    [GET => 'metrics', $main::Admin, undef, 200],
);
for my $c (@calls) {
    my ($m, $path, $token, $body, $want) = @$c;
    my ($s, $a) = CsApi::api($m, $path, $token, $body);
    is($s, $want, "$name - $m $path")
        or diag(ref $a ? JSON::PP->new->encode($a) : $a);
}
# a user's data: a message under an Idempotency-Key, an export, an
# anonymization and an erasure
for my $u ('u2', 'u3') {
    my $t2 = intake($u);
    my ($ms) = CsApi::api(POST => "tickets/$t2->{ticketId}/messages", $main::Admin,
                          '{"body":"hello"}', { 'Idempotency-Key' => "k-$u" });
    is($ms, 201, "$name - a message with an Idempotency-Key");
    my ($xs) = CsApi::api(POST => 'users/export', $main::Admin, qq({"userId":"$u"}));
    is($xs, 200, "$name - POST users/export");
}
for my $c (['u2', 'erase'], ['u3', 'anonymize']) {
    my ($es, $eb) = CsApi::api(POST => 'users/erase', $main::Admin,
                               qq({"userId":"$c->[0]","mode":"$c->[1]"}));
    is($es, 200, "$name - POST users/erase ($c->[1])")
        or diag(ref $eb ? JSON::PP->new->encode($eb) : $eb);
}
my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
my $scrape = HTTP::Tiny->new(timeout => 10)->get("http://127.0.0.1:$port/metrics");
is($scrape->{status}, 200, "$name - cs_metrics");
like($scrape->{content}, qr/^cs_tickets_created_total 3$/m, "$name - cs_metrics: the figures");
ok(wait_until(sub { $r->hget("cs:ticket:$id", 'state') eq 'closed' }, 10),
   "$name - the sweep closed the solved ticket as the ACL user");
my $log = do {
    local $/;
    open my $e, '<', Test::Nginx::Util::server_root() . '/logs/error.log'
        or die "error.log: $!";
    <$e>;
};
unlike($log, qr/NOPERM|NOAUTH|WRONGPASS/, "$name - Redis refused nothing");
my %clients = map { /\bname=\S* .*\buser=(\S+)/ ? ($1 => 1) : () }
              split /\n/, $r->client_list;
ok($clients{cs}, "$name - nginx is connected as the ACL user cs");
invariants_hold($name);

=== TEST 2: as that user, v1's intake by cs_service stores and routes
--- request
POST /v1/service
{"userId":"v1","issue":"v1 help"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like: ^\{"status":"success",.*"ticketId":1,.*"agent":"agent1"
--- stored
is($r->hget('cs:ticket:1', 'issue'), 'v1 help', "$name - stored");
is_deeply([ $r->lrange('cs:queue:agent1', 0, -1) ], [1], "$name - queued to agent1");

=== TEST 3: the same user reaches nothing else: a key outside the prefix, FLUSHALL, KEYS, a command its scripts do not use
--- stored
$r->set('other:key', 'x');
my $u = main::as_user();
is($u->get('cs:nothing'), undef, "$name - a key under the prefix: allowed");
ok(main::denied(sub { $u->get('other:key') }), "$name - GET outside the prefix");
ok(main::denied(sub { $u->set('other:key', 'y') }), "$name - SET outside the prefix");
ok(main::denied(sub { $u->flushall }), "$name - FLUSHALL");
ok(main::denied(sub { $u->keys('*') }), "$name - KEYS");
ok(main::denied(sub { $u->config('get', 'dir') }), "$name - CONFIG");
ok(main::denied(sub { $u->eval('return 1', 1, 'cs:x') }), "$name - EVAL of its own text");
ok(main::denied(sub { $u->publish('other', 'x') }), "$name - a channel outside the prefix");
is($r->get('other:key'), 'x', "$name - the key outside is unchanged");
