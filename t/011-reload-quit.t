# nginx -s reload and nginx -s quit under load: old workers finish what
# they hold and exit, nothing hangs, no "open socket left" alert, and
# every 201 has its ticket.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use POSIX ();
use Time::HiRes qw(sleep);

master_on();
workers(2);

redis_start();

sub master_pid {
    open my $fh, '<', server_root() . '/logs/nginx.pid' or return;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

# under valgrind nginx runs in the foreground as our child: reap it
sub gone {
    my ($pid) = @_;
    return 1 if waitpid($pid, POSIX::WNOHANG()) == $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    return (split ' ', scalar <$fh>)[2] eq 'Z';
}

sub workers_of {
    my ($master) = @_;
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my ($pid, $ppid) = (split ' ', scalar <$fh>)[0, 3];
        push @pids, $pid if $ppid == $master;
    }
    return sort @pids;
}

# load clients write "201s others" to their own file when the server stops
# answering or their count is done
sub start_load {
    my ($dir, $n, $count) = @_;
    my @pids;
    for my $c (1 .. $n) {
        defined(my $pid = fork()) or die "fork: $!";
        if ($pid == 0) {
            my ($ok, $bad) = (0, 0);
            for my $i (1 .. $count) {
                my ($status) = post_ticket(qq({"userId":"load$c","issue":"n $i"}));
                last if $status == 599;    # refused: nginx has quit
                $status == 201 ? $ok++ : $bad++;
            }
            open my $out, '>', "$dir/load.$c" or POSIX::_exit(1);
            print $out "$ok $bad\n";
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return @pids;
}

sub load_totals {
    my ($dir, @pids) = @_;
    waitpid($_, 0) for @pids;
    my ($ok, $bad) = (0, 0);
    for my $f (glob "$dir/load.*") {
        open my $fh, '<', $f or next;
        my ($o, $b) = split ' ', scalar <$fh>;
        $ok += $o;
        $bad += $b;
        unlink $f;
    }
    return ($ok, $bad);
}

add_response_body_check(sub {
    my ($block) = @_;
    my $name = $block->name;
    my $dir = server_root();
    my $master = master_pid();
    my @before = workers_of($master);
    Test::More::is(scalar @before, 2, "$name - two workers");

    # reload under load
    my @load = start_load($dir, 3, 150);
    CsTest::wait_until(sub { (redis()->get('cs:ticket:seq') // 0) > 20 }, 10);
    kill 'HUP', $master;
    Test::More::ok(CsTest::wait_until(sub {
        my @now = workers_of($master);
        return @now == 2 && !grep { my $p = $_; grep { $_ == $p } @before } @now;
    }, 15), "$name - the old workers exited after the reload");
    my ($ok, $bad) = load_totals($dir, @load);
    Test::More::is($bad, 0, "$name - no failed request across the reload");
    Test::More::cmp_ok($ok, '>', 0, "$name - requests were served");

    # quit under load
    @load = start_load($dir, 3, 100000);
    my $seq = redis()->get('cs:ticket:seq');
    CsTest::wait_until(sub { redis()->get('cs:ticket:seq') > $seq + 20 }, 10);
    kill 'QUIT', $master;
    Test::More::ok(CsTest::wait_until(sub { gone($master) }, 15),
                   "$name - nginx quit");
    my ($ok2, $bad2) = load_totals($dir, @load);
    Test::More::is($bad2, 0, "$name - no failed request while quitting");

    # every acknowledged ticket is stored (the first one is the block's own)
    Test::More::cmp_ok(redis()->get('cs:ticket:seq'), '>=', 1 + $ok + $ok2,
                       "$name - every 201 has its ticket");
    my $stored = 0;
    $stored += redis()->llen("cs:user:load$_:tickets") for 1 .. 3;
    Test::More::is($stored, $ok + $ok2, "$name - the users' histories hold exactly the 201s");
});

run_tests();

__DATA__

=== TEST 1: reload and quit under load
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    # not under test here, and slow under valgrind
    cs_redis_connect_timeout 10s;
    cs_agents agent1 agent2 agent3;
}
--- request
POST /api/service
{"userId":"first","issue":"before the reload"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like: "ticketId":1,
--- timeout: 30
--- error_log
reconfiguring
gracefully shutting down
--- no_error_log
open socket
[alert]
[crit]
[emerg]
