# The Redis connection under faults, with a real redis-server and no mocks:
# down at start, killed, stopped (SIGSTOP), paused, LOADING, scripts
# flushed, a wrong password, and clients that go away mid-flight.
#
# The blocks run in order: each one breaks Redis in its --- init and mends
# it in its after-check, which also polls, from the moment Redis is back,
# for tickets to be accepted again within the bound the README documents.
# When Redis does not answer, the access log's $request_time shows that no
# 504 came before cs_redis_timeout.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use POSIX ();
use Time::HiRes qw(time);

no_shuffle();

redis_start();

our @conns;    # nginx's Redis connections before a fault

# the first block sees a Redis that is down when nginx starts
redis_stop();

# cs_redis_timeout and cs_redis_connect_timeout below, in seconds
use constant TIMEOUT => 1;
use constant CONNECT_TIMEOUT => 1;

# README: reconnects back off from 100 ms, doubling to a 5 s cap, with a
# jitter that only shortens a wait.  A Redis that comes back is tried
# within the cap, and that handshake is over within the connect timeout:
# tickets are accepted again within 6 s of Redis' return.
use constant BACKOFF_CAP => 5;
use constant RECOVERY => BACKOFF_CAP + CONNECT_TIMEOUT;

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', ($block->http_config // '')
                      . "\nlog_format cs_timing '\$status \$request_time';\n");
    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_timeout 1s;
    cs_redis_connect_timeout 1s;
    cs_agents agent1 agent2;
    access_log logs/timing.log cs_timing;
}
CONF
});

# polls from now, Redis being back, until a ticket is accepted: a probe
# sent within RECOVERY seconds must be
sub recovers {
    my ($name) = @_;
    my $from = time;
    my ($sent, $status) = (0, 0);
    my $ok = wait_until(sub {
        $sent = time - $from;
        ($status) = post_ticket('{"userId":"probe","issue":"back?"}');
        return $status == 201;
    }, RECOVERY);
    Test::More::ok($ok, "$name - tickets accepted again within "
                        . RECOVERY . " s of Redis' return")
        or Test::More::diag(sprintf 'last probe %d at %.2f s', $status, $sent);
    Test::More::note(sprintf '%s: recovered by a probe sent at %.2f s',
                             $name, $sent);
}

# every 504 in the access log came after cs_redis_timeout, not before (to
# the log's millisecond), and soon after it; the log line may follow the
# answer, so wait for it
sub no_early_504 {
    my ($name) = @_;
    my @times;
    Test::More::ok(wait_until(sub {
        open my $fh, '<', server_root() . '/logs/timing.log' or return 0;
        @times = map { /^504 (\S+)$/ ? $1 : () } <$fh>;
        return @times > 0;
    }, 5), "$name - the 504 is in the access log");
    my @early = grep { $_ < TIMEOUT - 0.001 } @times;
    Test::More::is("@early", '', "$name - no 504 before cs_redis_timeout");
    return if valgrind();
    my @late = grep { $_ > TIMEOUT + 1 } @times;
    Test::More::is("@late", '', "$name - each 504 within 1 s after it");
    Test::More::note("$name: 504s after @times s");
}

# whether the TCP connection from 127.0.0.1:$port to Redis is established
sub established {
    my ($port) = @_;
    my $from = sprintf '0100007F:%04X', $port;
    my $to = sprintf '0100007F:%04X', $ENV{TEST_NGINX_REDIS_PORT};
    open my $fh, '<', '/proc/net/tcp' or die "/proc/net/tcp: $!";
    while (my $line = <$fh>) {
        my (undef, $local, $remote, $state) = split ' ', $line;
        return 1 if $local eq $from && $remote eq $to && $state eq '01';
    }
    return 0;
}

# a child that SIGKILLs Redis once nginx's FCALL is blocked in it
sub kill_redis_when_blocked {
    my $pid = redis_pid();
    my $port = $ENV{TEST_NGINX_REDIS_PORT};
    defined(my $child = fork()) or die "fork: $!";
    return if $child;
    wait_until(sub {
        my $list = Redis->new(server => "127.0.0.1:$port",
                              reconnect => 0)->client_list;
        return $list =~ /flags=b\b.*cmd=fcall/;
    }, 5);
    kill 'KILL', $pid;
    POSIX::_exit(0);
}

my %after = (
    1 => sub {
        my $name = shift;
        redis_start();
        recovers($name);
    },
    2 => sub {
        my $name = shift;
        # the parent reaps the server its child killed, then restarts it
        redis_signal('KILL');
        redis_start();
        recovers($name);
        Test::More::is(scalar(grep { /^cs:ticket:\d+$/ } redis_keys()), 1,
                       "$name - only the probe's ticket exists");
    },
    3 => sub {
        my $name = shift;
        no_early_504($name);
        # nginx closes the connection Redis left unanswered, while Redis is
        # still stopped: it is never reused out of step
        my @ports = map { $_->{addr} =~ /:(\d+)$/ } @conns;
        Test::More::ok(@ports && wait_until(sub {
            !grep { established($_) } @ports;
        }, 5), "$name - nginx closed its unanswered connection")
            or Test::More::diag("nginx's ports before the stop: @ports");
        redis_signal('CONT');
        recovers($name);
        my %before = map { $_->{id} => 1 } @conns;
        my @now;
        Test::More::ok(wait_until(sub {
            @now = map { $_->{id} } nginx_connections();
            return @now && !grep { $before{$_} } @now;
        }, 5), "$name - nginx uses a new Redis connection")
            or Test::More::diag("ids before: @{[ keys %before ]}; now: @now");
    },
    4 => sub {
        my $name = shift;
        # the retry with the same key after the pause makes one ticket
        my ($status, $body);
        wait_until(sub {
            ($status, $body) = post_ticket('{"userId":"u4","issue":"paused"}',
                                           'Idempotency-Key' => 'k-4');
            return $status == 201;
        }, 8);
        Test::More::is($status, 201, "$name - retry answered 201");
        Test::More::is(scalar(user_tickets('u4')), 1,
                       "$name - exactly one ticket for the retried request");
        no_early_504($name);
    },
    5 => sub {
        my $name = shift;
        Test::More::is(scalar(user_tickets('u5')), 1,
                       "$name - the ticket was stored once");
    },
    6 => sub {
        my $name = shift;
        # Redis is back once it has loaded its dataset
        Test::More::ok(wait_until(sub {
            redis()->info('persistence')->{loading} eq '0';
        }, 30), "$name - Redis loaded its dataset");
        recovers($name);
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
        Test::More::is(scalar(user_tickets('u8')), 1,
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
CsTest::warm_up();
@main::conns = CsTest::nginx_connections();
CsTest::redis_signal('STOP');
--- request
POST /api/service
{"userId":"u3","issue":"stopped"}
--- more_headers
Content-Type: application/json
--- error_code: 504
--- response_body_like: "error":"store_timeout"



=== TEST 4: CLIENT PAUSE past cs_redis_timeout: 504, and a retry with the same Idempotency-Key stores one ticket
--- init
CsTest::flush_redis();
CsTest::warm_up();
CsTest::redis()->client_pause(2000, 'WRITE');
--- request
POST /api/service
{"userId":"u4","issue":"paused"}
--- more_headers
Content-Type: application/json
Idempotency-Key: k-4
--- error_code: 504
--- response_body_like: "error":"store_timeout"



=== TEST 5: FUNCTION FLUSH: the desk's library is loaded again and the client never sees "Function not found"
--- init
CsTest::flush_redis();
CsTest::warm_up();
CsTest::redis()->function_flush();
--- request
POST /api/service
{"userId":"u5","issue":"flushed"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like: ^\{"status":"success","message":"Request received and processed\.","ticketId":2,"agent":"agent2","state":"assigned"\}$
--- error_log
lost the desk's library, loading it again



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
