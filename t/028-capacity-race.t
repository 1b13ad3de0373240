# Capacity is a hard limit under any concurrency: one agent with capacity
# 3, two workers, 50 intakes at once.  Exactly 3 are assigned and the rest
# wait; solving one drains exactly one.  The decision is one script per
# ticket, so no two workers can both see a free place.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use POSIX ();

master_on();
workers(2);

redis_start();

our $Admin = $CsApi::Admin;

check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();');
    $block->set_value('config', <<'CONF');
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
CONF
    $block->set_value('request', "GET /api/me\n");
    $block->set_value('more_headers', "Authorization: Bearer $main::Admin");
});

run_tests();

__DATA__

=== TEST 1: 50 intakes at once through 2 workers to one agent of capacity 3: exactly 3 assigned, 47 queued; solving one drains exactly one
--- stored
ok(CsTest::wait_until(sub { nginx_connections() == 2 }, 10),
   "$name - both workers are connected");
my $alice = new_agent('alice', 3);
my @pids;
for my $i (1 .. 50) {
    defined(my $pid = fork()) or die "fork: $!";
    if ($pid == 0) {
        my $t = intake("u$i");
        POSIX::_exit($t && $t->{ticketId} ? 0 : 1);
    }
    push @pids, $pid;
}
my $failed = 0;
for my $pid (@pids) {
    waitpid($pid, 0);
    $failed++ if $? != 0;
}
is($failed, 0, "$name - all 50 were taken in");
my %state;
$state{ $r->hget("cs:ticket:$_", 'state') }++ for 1 .. 50;
is_deeply(\%state, { assigned => 3, queued => 47 }, "$name - 3 assigned, 47 queued");
is($r->llen('cs:queue:alice'), 3, "$name - alice's queue holds 3");
# each worker draws its nonces from its own random pool: none is shared
my %nonces = map { $r->hget("cs:ticket:$_", 'nonce') => 1 } 1 .. 50;
is(scalar keys %nonces, 50, "$name - 50 tickets, 50 different nonces across both workers");
my %events = map { $r->hget("cs:user:" . $r->hget("cs:ticket:$_", 'userKey'), 'eventId') => 1 } 1 .. 50;
is(scalar keys %events, 50, "$name - 50 users, 50 different event ids");
is($r->hget('cs:agent:alice', 'load'), 3, "$name - her load is 3");
is($r->zcard('cs:backlog'), 47, "$name - the backlog holds 47");
is($r->zcard('cs:state:queued'), 47, "$name - the index agrees");
my $one = $r->lindex('cs:queue:alice', 0);
my $next = ($r->zrange('cs:backlog', 0, 0))[0];
my ($st, $b) = api(POST => "tickets/$one/status", $alice, '{"state":"solved"}');
is($st, 200, "$name - one solved");
is($r->llen('cs:queue:alice'), 3, "$name - exactly one drained to her");
is($r->zcard('cs:backlog'), 46, "$name - 46 wait");
is($r->hget("cs:ticket:$next", 'agent'), 'alice', "$name - the oldest waiting");
is($r->hget('cs:agent:alice', 'load'), 3, "$name - her load is 3 again");
