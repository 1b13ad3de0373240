# The Redis connection under faults, with a real redis-server and no mocks:
# down at start, killed, stopped (SIGSTOP), paused, LOADING, scripts
# flushed, a wrong password, and clients that go away mid-flight.
#
# The blocks run in order: each one breaks Redis in its --- init and mends
# it in its after-check, which also waits, by bounded polling, for tickets
# to be accepted again within the back-off cap (5 s) plus 1 s.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use POSIX ();
use Time::HiRes qw(time);

no_shuffle();

redis_start();

our ($t0, $restarted);

# the first block sees a Redis that is down when nginx starts
redis_stop();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_timeout 1s;
    cs_redis_connect_timeout 1s;
    cs_agents agent1 agent2;
}
CONF
});

sub recovers_within {
    my ($name, $limit) = @_;
    my $from = time;
    my $ok = wait_until(sub {
        my ($status) = post_ticket('{"userId":"probe","issue":"back?"}');
        return $status == 201;
    }, $limit + 2);
    my $took = time - $from;
    Test::More::ok($ok, "$name - tickets accepted again");
    Test::More::cmp_ok($took, '<=', $limit, "$name - within $limit s")
        unless valgrind();
}

# a child that SIGKILLs Redis once nginx's EVALSHA is blocked in it
sub kill_redis_when_blocked {
    my $pid = redis_pid();
    my $port = $ENV{TEST_NGINX_REDIS_PORT};
    defined(my $child = fork()) or die "fork: $!";
    return if $child;
    wait_until(sub {
        my $list = Redis->new(server => "127.0.0.1:$port",
                              reconnect => 0)->client_list;
        return $list =~ /flags=b\b.*cmd=evalsha/;
    }, 5);
    kill 'KILL', $pid;
    POSIX::_exit(0);
}

my %after = (
    1 => sub {
        my $name = shift;
        redis_start();
        recovers_within($name, 6);
    },
    2 => sub {
        my $name = shift;
        # the parent reaps the server its child killed, then restarts it
        redis_signal('KILL');
        redis_start();
        recovers_within($name, 6);
        Test::More::is(scalar(grep { /^cs:ticket:\d+$/ } redis_keys()), 1,
                       "$name - only the probe's ticket exists");
    },
    3 => sub {
        my $name = shift;
        my $took = time - $t0;
        unless (valgrind()) {
            Test::More::cmp_ok($took, '>=', 1.0, "$name - not before 1 s");
            Test::More::cmp_ok($took, '<=', 1.6, "$name - at most ~500 ms after");
        }
        redis_signal('CONT');
        recovers_within($name, 6);
    },
    4 => sub {
        my $name = shift;
        # the retry with the same key after the pause makes one ticket
        wait_until(sub { redis()->ping }, 5);
        my ($status, $body);
        wait_until(sub {
            ($status, $body) = post_ticket('{"userId":"u4","issue":"paused"}',
                                           'Idempotency-Key' => 'k-4');
            return $status == 201;
        }, 8);
        Test::More::is($status, 201, "$name - retry answered 201");
        Test::More::is(redis()->llen('cs:user:u4:tickets'), 1,
                       "$name - exactly one ticket for the retried request");
    },
    5 => sub {
        my $name = shift;
        Test::More::is(redis()->llen('cs:user:u5:tickets'), 1,
                       "$name - the ticket was stored once");
    },
    6 => sub {
        my $name = shift;
        recovers_within($name, 6 + 10);
        unlink redis_dir() . '/dump.rdb';
        # the next block's nginx starts against a Redis with a password
        redis_restart(args => ['--requirepass', 's3cret']);
    },
    7 => sub {
        my $name = shift;
        # the next block's nginx starts against the same locked Redis
    },
    8 => sub {
        my $name = shift;
        Test::More::is(redis()->llen('cs:user:u8:tickets'), 1,
                       "$name - a password opens the store");
        redis_restart(args => []);
    },
);

add_response_body_check(sub {
    my ($block) = @_;
    my ($n) = $block->name =~ /TEST (\d+):/;
    $after{$n}->($block->name) if $after{$n};
});

run_tests();

__DATA__

=== TEST 1: Redis down at nginx start: nginx serves 503 store_unavailable with Retry-After, then tickets once Redis is back
--- request
POST /api/service
{"userId":"u1","issue":"is anyone there?"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_headers_like
Retry-After: ^[1-5]$
Content-Type: application/json
--- response_body_like: ^\{"status":"error","error":"store_unavailable","message":"[^"]+"\}$
--- error_log eval
qr/cs: redis 127\.0\.0\.1:\d+: connect failed: Connection refused/



=== TEST 2: Redis killed while a request waits: 504 store_timeout, the fate being unknown
--- init
CsTest::flush_redis();
CsTest::redis()->client_pause(3000, 'WRITE');
main::kill_redis_when_blocked();
--- request
POST /api/service
{"userId":"u2","issue":"killed"}
--- more_headers
Content-Type: application/json
--- error_code: 504
--- response_body_like: ^\{"status":"error","error":"store_timeout","message":"[^"]+"\}$
--- error_log
connection lost



=== TEST 3: a Redis that never answers (SIGSTOP): 504 after cs_redis_timeout, not before, and the connection is dropped
--- init
CsTest::flush_redis();
CsTest::post_ticket('{"userId":"warm","issue":"connect first"}');
CsTest::redis_signal('STOP');
$main::t0 = Time::HiRes::time();
--- request
POST /api/service
{"userId":"u3","issue":"stopped"}
--- more_headers
Content-Type: application/json
--- error_code: 504
--- response_body_like: "error":"store_timeout"
--- error_log
did not answer in 1000 ms, dropping the connection



=== TEST 4: CLIENT PAUSE past cs_redis_timeout: 504, and a retry with the same Idempotency-Key stores one ticket
--- init
CsTest::flush_redis();
CsTest::post_ticket('{"userId":"warm","issue":"connect first"}');
CsTest::redis()->client_pause(2000, 'WRITE');
--- request
POST /api/service
{"userId":"u4","issue":"paused"}
--- more_headers
Content-Type: application/json
Idempotency-Key: k-4
--- error_code: 504
--- response_body_like: "error":"store_timeout"



=== TEST 5: SCRIPT FLUSH: the script is loaded again and the client never sees NOSCRIPT
--- init
CsTest::flush_redis();
CsTest::post_ticket('{"userId":"warm","issue":"connect first"}');
CsTest::redis()->script_flush();
--- request
POST /api/service
{"userId":"u5","issue":"flushed"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like: ^\{"status":"success","message":"Request received and processed\.","ticketId":2,"agent":"agent2","state":"assigned"\}$
--- error_log
lost the scripts, loading them again



=== TEST 6: Redis LOADING its dataset: 503 store_unavailable, then tickets once loaded
--- init
CsTest::flush_redis();
CsTest::redis()->debug('populate', 50000);
CsTest::redis()->save();
CsTest::redis_restart(args => ['--key-load-delay', '50',
                               '--loading-process-events-interval-bytes', '1024']);
--- request
POST /api/service
{"userId":"u6","issue":"loading"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_headers_like
Retry-After: ^\d+$
--- response_body_like: "error":"store_unavailable"
--- error_log
is loading its dataset



=== TEST 7: a wrong password: a clear error-log line and 503
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_password wrong;
}
--- request
POST /api/service
{"userId":"u7","issue":"locked out"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_body_like: "error":"store_unavailable"
--- error_log eval
qr/cs: redis 127\.0\.0\.1:\d+: connection set-up failed: WRONGPASS/



=== TEST 8: the right password
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_password s3cret;
}
--- request
POST /api/service
{"userId":"u8","issue":"let me in"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like: "ticketId":1,"agent":null,"state":"queued"
