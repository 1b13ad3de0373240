# One slow call is not a dead Redis.  A call whose own cs_redis_timeout
# passes answers its request 504 and is detached; the connection, shared
# by every location with the same server, stays up as long as Redis gives
# any reply within the longest timeout of those locations.  A Redis that
# turns into a replica (fail-over) answers READONLY: the worker answers 503
# and connects again, and tickets are accepted once a primary is back.
# With nginx's "resolver" set, the name is resolved again before the
# reconnect, so a fail-over that moves the name to a new primary is
# followed: here a small DNS server moves "localhost" to 127.0.0.2, where a
# second redis-server is the new primary.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use IO::Socket::INET;
use POSIX ();

no_shuffle();

redis_start();

my $dir = CsTest::redis_dir();

# TEST 4's short timeout; valgrind's slow nginx could miss it by itself
$ENV{TEST_NGINX_STEADY_TIMEOUT} = CsTest::valgrind() ? '2s' : '250ms';
our ($short_child, $clients_before);

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', ($block->http_config // '') . <<'CONF');
log_format cs_time '$uri $status $request_time';
CONF
    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_timeout 10s;
    cs_agents agent1;
    access_log logs/time.log cs_time;
}
location = /short/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_timeout 300ms;
    cs_agents agent1;
    access_log logs/time.log cs_time;
}
CONF
});

# the new primary: a second redis-server on 127.0.0.2, same port
my $port = $ENV{TEST_NGINX_REDIS_PORT};
my $primary2 = "$dir/primary2";
mkdir $primary2;
defined(my $primary2_pid = fork()) or die "fork: $!";
if ($primary2_pid == 0) {
    open STDOUT, '>', '/dev/null';
    open STDERR, '>', '/dev/null';
    exec 'redis-server', '--port', $port, '--bind', '127.0.0.2',
         '--dir', $primary2, '--save', '', '--appendonly', 'no'
        or POSIX::_exit(127);
}

# a DNS server that answers every A query with 127.0.0.2
my $dns = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.1',
                                LocalPort => 0) or die "dns socket: $!";
$ENV{TEST_NGINX_DNS_PORT} = $dns->sockport;
defined(my $dns_pid = fork()) or die "fork: $!";
if ($dns_pid == 0) {
    while (defined $dns->recv(my $q, 512)) {
        next if length $q < 17;
        my $qend = index($q, "\0", 12) + 5;    # name, type, class
        my $question = substr($q, 12, $qend - 12);
        my $qtype = unpack 'n', substr($q, $qend - 4, 2);
        my $a = $qtype == 1
            ? pack('n n n N n C4', 0xc00c, 1, 1, 1, 4, 127, 0, 0, 2) : '';
        $dns->send(substr($q, 0, 2) . pack('n n n n n', 0x8180, 1,
                                           $a ? 1 : 0, 0, 0)
                   . $question . $a);
    }
    POSIX::_exit(0);
}
my $owner = $$;

END {
    if ($$ == $owner) {
        kill 'TERM', $primary2_pid, $dns_pid;
        waitpid($_, 0) for $primary2_pid, $dns_pid;
    }
}

sub primary2 {
    return Redis->new(server => "127.0.0.2:$port", reconnect => 0,
                      cnx_timeout => 2);
}

# the nginx connections in Redis' CLIENT LIST, by id
sub nginx_clients {
    my @ids;
    for (split /\n/, redis()->client_list) {
        next if /cmd=client/;
        push @ids, $1 if /\bid=(\d+)/;
    }
    return join ',', sort @ids;
}

sub access_lines {
    my ($uri) = @_;
    open my $fh, '<', Test::Nginx::Util::server_root() . '/logs/time.log'
        or return ();
    return grep { /^\Q$uri\E / } <$fh>;
}

my %check = (
    1 => sub {
        my ($name) = @_;

        # the short location's client ran beside this request
        my $child = $main::short_child;
        waitpid($child, 0);
        open my $fh, '<', "$dir/short.status" or die "short.status: $!";
        my ($status, $body) = split / /, scalar(<$fh>), 2;
        Test::More::is($status, 504, "$name - the short location got 504");
        Test::More::like($body, qr/"error":"store_timeout"/,
                         "$name - as store_timeout");

        my ($line) = access_lines('/short/service');
        my ($t) = ($line // '') =~ / 504 ([\d.]+)$/;
        # the timer counts whole ms of nginx's monotonic clock and
        # $request_time whole ms of the wall clock: the two truncations
        # may differ by a ms (seen: 0.299), never by the 150 ms of a timer
        # armed for half the timeout
        Test::More::ok(defined $t && $t >= 0.3 - 0.002,
                       "$name - the 504 came after its 300 ms, not before ("
                       . ($t // 'no log line') . ')');

        # the late reply of the short call was dropped: both tickets are
        # stored (the 504 said "fate unknown"), the connection never moved
        Test::More::ok(wait_until(sub { redis()->get('cs:ticket:seq') == 2 },
                                  5), "$name - Redis ran both calls");
        Test::More::is(nginx_clients(), $main::clients_before,
                       "$name - the same Redis connection throughout");
    },
    2 => sub {
        my ($name) = @_;
        my $before = nginx_clients();
        redis()->replicaof('NO', 'ONE');

        # tickets come back within the back-off cap (5 s, with jitter)
        Test::More::ok(wait_until(sub {
            my ($status) = post_ticket('{"userId":"back","issue":"primary"}');
            return $status == 201;
        }, 6), "$name - tickets accepted again once a primary is back");
        Test::More::isnt(nginx_clients(), $before,
                         "$name - the worker connected again");
    },
    4 => sub {
        my ($name) = @_;
        my $before = nginx_clients();
        # three clients back to back for a while: a call always in flight,
        # each answered well within the 250 ms timeout (under nginx's 300 ms
        # timer slack, which once kept the deadline from moving)
        my @pids;
        for my $c (1 .. 3) {
            defined(my $pid = fork()) or die "fork: $!";
            if ($pid == 0) {
                my ($ok, $bad, $end) = (0, 0, time + 1.5);
                while (time < $end) {
                    my ($st) = post_ticket(qq({"userId":"s$c","issue":"steady"}));
                    $st == 201 ? $ok++ : $bad++;
                }
                POSIX::_exit($bad > 0 || $ok == 0 ? 1 : 0);
            }
            push @pids, $pid;
        }
        my $failed = 0;
        for (@pids) { waitpid($_, 0); $failed++ if $? }
        Test::More::is($failed, 0, "$name - every steady call got 201");
        Test::More::is(nginx_clients(), $before,
                       "$name - the connection was never dropped");
    },
    3 => sub {
        my ($name) = @_;
        Test::More::ok(wait_until(sub {
            my ($status) = post_ticket('{"userId":"moved","issue":"new primary"}');
            return $status == 201;
        }, 6), "$name - tickets accepted again, by the new primary");
        Test::More::is(primary2()->hget('cs:ticket:1', 'userId'), 'moved',
                       "$name - the ticket is in the new primary");
        redis()->replicaof('NO', 'ONE');
    },
);

add_response_body_check(sub {
    my ($block) = @_;
    my ($n) = $block->name =~ /TEST (\d+):/;
    $check{$n}->($block->name) if $check{$n};
});

run_tests();

__DATA__

=== TEST 1: two locations on one connection: a pause longer than the short timeout and shorter than the long one is 504 for the short and 201 for the long
--- init
CsTest::flush_redis();
CsTest::warm_up();
CsTest::flush_redis();
$main::clients_before = main::nginx_clients();
CsTest::redis()->client_pause(1500, 'WRITE');
my $dir = CsTest::redis_dir();
our ($short_child, $clients_before);
unlink "$dir/short.status";
defined($main::short_child = fork()) or die "fork: $!";
if ($main::short_child == 0) {
    my ($s, $b) = CsTest::post_ticket('{"userId":"short","issue":"in a hurry"}',
                                      path => '/short/service');
    open my $fh, '>', "$dir/short.status.tmp" or POSIX::_exit(1);
    print $fh "$s $b";
    close $fh;
    rename "$dir/short.status.tmp", "$dir/short.status";
    POSIX::_exit(0);
}
--- request
POST /api/service
{"userId":"long","issue":"I can wait"}
--- more_headers
Content-Type: application/json
--- timeout: 15
--- error_code: 201
--- response_body_like: ^\{"status":"success","message":"Request received and processed\.","ticketId":\d,"agent":"agent1","state":"assigned"\}$
--- error_log
did not answer this call in 300 ms
--- no_error_log
gave no reply
[alert]



=== TEST 2: the Redis turns into a replica: 503 store_unavailable, and the worker drops the connection to find a primary
--- init
CsTest::flush_redis();
CsTest::warm_up();
CsTest::redis()->replicaof('127.0.0.1', CsTest::free_port());
--- request
POST /api/service
{"userId":"failover","issue":"who is the primary?"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_headers_like
Retry-After: ^\d+$
--- response_body_like: ^\{"status":"error","error":"store_unavailable",
--- error_log eval
qr/cs: redis \S+ is not a writable primary \(READONLY /
--- no_error_log
[alert]



=== TEST 3: with a resolver, the name is resolved again before the reconnect, and the new primary takes the tickets
--- config
location = /api/service {
    cs_service;
    cs_redis_server localhost:$TEST_NGINX_REDIS_PORT;
    resolver 127.0.0.1:$TEST_NGINX_DNS_PORT ipv6=off valid=1s;
    resolver_timeout 2s;
    cs_agents agent1;
}
--- init
CsTest::flush_redis();
CsTest::wait_until(sub { main::primary2()->ping }, 10);
main::primary2()->flushall;
CsTest::warm_up();
CsTest::redis()->replicaof('127.0.0.1', CsTest::free_port());
--- request
POST /api/service
{"userId":"failover","issue":"who is the primary?"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_body_like: ^\{"status":"error","error":"store_unavailable",
--- error_log eval
[qr/cs: redis \S+ is not a writable primary \(READONLY /,
 qr/cs: redis localhost:\d+ resolved to 127\.0\.0\.2/]
--- no_error_log
[alert]



=== TEST 4: steady load with a call always in flight, each reply well within a short timeout: the connection stays
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_timeout $TEST_NGINX_STEADY_TIMEOUT;
}
--- init
CsTest::flush_redis();
# a registry of agents that are all offline makes each intake take a few
# ms in Redis, so that the three clients keep a call in flight
CsTest::redis()->sadd('cs:agents', map { "agent$_" } 1 .. 4000);
CsTest::warm_up();
--- request
POST /api/service
{"userId":"steady","issue":"first"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- no_error_log
gave no reply
[alert]
