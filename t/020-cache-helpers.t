# nginx runs its cache manager (and later its cache loader) with the
# modules' init_process too.  Only the processes that serve requests talk
# to Redis: with proxy_cache_path set and Redis down, the connect failures
# in the error log all come from the one worker.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;

master_on();
workers(1);

# no redis-server: a closed port keeps every process that connects retrying
$ENV{TEST_NGINX_CLOSED_PORT} = CsTest::free_port();

add_response_body_check(sub {
    my ($block) = @_;
    my $name = $block->name;
    my $log = Test::Nginx::Util::server_root() . '/logs/error.log';
    my @lines;

    # the back-off retries every 100 ms to 5 s: wait for several rounds
    Test::More::ok(wait_until(sub {
        open my $fh, '<', $log or return 0;
        @lines = grep { /cs: redis \S+: connect failed/ } <$fh>;
        return @lines >= 4;
    }, 10), "$name - the worker retries its connection");

    my %pids = map { /\[error\] (\d+)#/ ? ($1 => 1) : () } @lines;
    Test::More::is(scalar(keys %pids), 1,
                   "$name - one process connects, not the cache manager"
                   . " (pids: @{[ sort keys %pids ]})");
});

run_tests();

__DATA__

=== TEST 1: with proxy_cache_path, only the worker connects to Redis
--- http_config
proxy_cache_path cs_cache keys_zone=cs_cache:1m;
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    cs_agents agent1;
}
--- request
POST /api/service
{"userId":"u1","issue":"is anyone there?"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_body_like: ^\{"status":"error","error":"store_unavailable",
