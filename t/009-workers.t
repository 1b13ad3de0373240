# Two workers, one Redis: every worker keeps its own connection, ids are
# unique and round robin is exact across workers, because the routing
# state lives in Redis.  The access log names the worker of every answer,
# so the test fails if one worker served everything.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use POSIX ();

master_on();
workers(2);

redis_start();

my $clients = 4;    # 1 + 4 x 20 = 81 tickets, a multiple of 3
my $each = 20;

add_response_body_check(sub {
    my ($block) = @_;
    my $name = $block->name;

    # the master has started both workers once each has its connection
    Test::More::ok(CsTest::wait_until(sub { nginx_connections() == 2 }, 10),
                   "$name - one Redis connection per worker");

    my @pids;
    for my $c (1 .. $clients) {
        defined(my $pid = fork()) or die "fork: $!";
        if ($pid == 0) {
            my $bad = 0;
            for my $i (1 .. $each) {
                my ($status) = post_ticket(
                    qq({"userId":"c$c","issue":"ticket $i from client $c"}));
                $bad++ if $status != 201;
            }
            POSIX::_exit($bad > 255 ? 255 : $bad);
        }
        push @pids, $pid;
    }

    my $failed = 0;
    for my $pid (@pids) {
        waitpid($pid, 0);
        $failed += $? >> 8;
    }
    Test::More::is($failed, 0, "$name - every concurrent request got 201");

    my $total = 1 + $clients * $each;
    my $r = redis();
    Test::More::is($r->get('cs:ticket:seq'), $total, "$name - $total ids");

    my @agents = qw(agent1 agent2 agent3);
    my ($bad, %ids) = (0);
    for my $id (1 .. $total) {
        my %t = $r->hgetall("cs:ticket:$id");
        $ids{ $t{id} }++ if defined $t{id};
        $bad++ unless ($t{agent} // '') eq $agents[($id - 1) % 3];
    }
    Test::More::is(scalar(keys %ids), $total, "$name - every id is stored once");
    Test::More::is($bad, 0, "$name - ticket n went to agent ((n - 1) mod 3) + 1");

    my @len = map { $r->llen("cs:queue:$_") } @agents;
    Test::More::is("@len", join(' ', ($total / 3) x 3),
                   "$name - the queues are exactly even");

    # both workers answered 201s: the access log names the worker of each
    # answer; the log phase may follow the answer, so wait for every line
    my $log = server_root() . '/logs/workers.log';
    my %by;
    Test::More::ok(CsTest::wait_until(sub {
        open my $fh, '<', $log or return 0;
        %by = ();
        my $n = 0;
        while (<$fh>) {
            next unless /^(\d+) 201$/;
            $by{$1}++;
            $n++;
        }
        return $n == $total;
    }, 10), "$name - the access log has $total answers 201");
    my @workers = workers_of(master_pid());
    Test::More::is(join(' ', sort keys %by), "@workers",
                   "$name - both workers answered 201s")
        or Test::More::diag(join ', ', map { "$_: $by{$_}" } sort keys %by);
    Test::More::note(join ', ', map { "worker $_: $by{$_}" } sort keys %by);
});

run_tests();

__DATA__

=== TEST 1: 2 workers: unique ids and exact round robin under concurrent load
--- http_config
log_format cs_worker '$pid $status';
--- config
location = /api/service {
    cs_service;
    access_log logs/workers.log cs_worker;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    # not under test here, and slow under valgrind
    cs_redis_connect_timeout 10s;
    cs_agents agent1 agent2 agent3;
}
--- request
POST /api/service
{"userId":"first","issue":"the first ticket"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- no_error_log
[alert]
[crit]
