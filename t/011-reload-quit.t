# nginx -s reload and nginx -s quit under load: old workers finish what
# they hold and exit, nothing hangs, no "open socket left" alert, every
# request across a reload gets 201, and Redis holds exactly the tickets
# answered 201.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use POSIX ();

master_on();
workers(2);

redis_start();

# under valgrind nginx runs in the foreground as our child: reap it
sub gone {
    my ($pid) = @_;
    return 1 if waitpid($pid, POSIX::WNOHANG()) == $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    return (split ' ', scalar <$fh>)[2] eq 'Z';
}

# Load clients post until $dir/stop appears.  Every answer but 201 is a
# failure, 599 (reset, refused, timeout) included, except after $dir/quit
# appears: nginx has been told to quit, so a client may then find it gone;
# that ends the client and is counted apart.  Each client writes to its
# own file: "ok <id> <issue>", "bad <status> <issue> <why>" and
# "refused <issue> <why>" lines.
sub start_load {
    my ($dir, $n, $phase) = @_;
    my @pids;
    for my $c (1 .. $n) {
        defined(my $pid = fork()) or die "fork: $!";
        if ($pid == 0) {
            open my $out, '>', "$dir/load.$c" or POSIX::_exit(1);
            $out->autoflush(1);
            for my $i (1 .. 100000) {
                last if -e "$dir/stop";
                my $issue = "$phase $i";
                my ($status, $body) =
                    post_ticket(qq({"userId":"load$c","issue":"$issue"}));
                if ($status == 201 && $body =~ /"ticketId":(\d+),/) {
                    print $out "ok $1 $issue\n";
                    next;
                }
                (my $why = substr($body // '', 0, 80)) =~ s/\s+/ /g;
                if ($status == 599 && -e "$dir/quit") {
                    print $out "refused $issue $why\n";
                    last;
                }
                print $out "bad $status $issue $why\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return @pids;
}

# waits for the clients and returns {ok => {id => [user, issue]},
# bad => [lines], refused => [[user, issue], ...]}
sub load_results {
    my ($dir, @pids) = @_;
    waitpid($_, 0) for @pids;
    my %res = (ok => {}, bad => [], refused => []);
    for my $f (glob "$dir/load.*") {
        my ($c) = $f =~ /load\.(\d+)$/;
        open my $fh, '<', $f or next;
        while (my $line = <$fh>) {
            chomp $line;
            if ($line =~ /^ok (\d+) (.*)$/) {
                $res{ok}{$1} = ["load$c", $2];
            } elsif ($line =~ /^refused (\S+ \d+)/) {
                push @{ $res{refused} }, ["load$c", $1];
            } else {
                push @{ $res{bad} }, "load$c: $line";
            }
        }
        unlink $f;
    }
    unlink "$dir/stop", "$dir/quit";
    return \%res;
}

sub seq { return redis()->get('cs:ticket:seq') // 0 }

sub first_ten { return join "\n", grep { defined } @_[0 .. 9] }

add_response_body_check(sub {
    my ($block) = @_;
    my $name = $block->name;
    my $dir = server_root();
    my $master = master_pid();
    my @before = workers_of($master);
    Test::More::is(scalar @before, 2, "$name - two workers");

    # reload while the clients post, and let them go on until the new
    # workers have served too
    my @load = start_load($dir, 3, 'reload');
    my $seq = seq();
    Test::More::ok(CsTest::wait_until(sub { seq() > $seq + 20 }, 10),
                   "$name - tickets before the reload");
    kill 'HUP', $master;
    Test::More::ok(CsTest::wait_until(sub {
        my @now = workers_of($master);
        return @now == 2 && !grep { my $p = $_; grep { $_ == $p } @before } @now;
    }, 15), "$name - the old workers exited after the reload");
    $seq = seq();
    Test::More::ok(CsTest::wait_until(sub { seq() > $seq + 20 }, 10),
                   "$name - tickets from the new workers");
    open my $stop, '>', "$dir/stop" or die "$dir/stop: $!";
    close $stop;
    my $reload = load_results($dir, @load);
    Test::More::is(scalar @{ $reload->{bad} }, 0,
                   "$name - every request across the reload got 201")
        or Test::More::diag(first_ten(@{ $reload->{bad} }));
    Test::More::is(scalar @{ $reload->{refused} }, 0,
                   "$name - nothing refused across the reload");

    # quit while the clients post: what nginx took is answered 201; after
    # the quit a client may find nginx gone, and then nothing of it is stored
    @load = start_load($dir, 3, 'quit');
    $seq = seq();
    Test::More::ok(CsTest::wait_until(sub { seq() > $seq + 20 }, 10),
                   "$name - tickets before the quit");
    open my $quit, '>', "$dir/quit" or die "$dir/quit: $!";
    close $quit;
    kill 'QUIT', $master;
    Test::More::ok(CsTest::wait_until(sub { gone($master) }, 15),
                   "$name - nginx quit");
    my $quitting = load_results($dir, @load);
    Test::More::is(scalar @{ $quitting->{bad} }, 0,
                   "$name - every request nginx took while quitting got 201")
        or Test::More::diag(first_ten(@{ $quitting->{bad} }));
    Test::More::is(scalar @{ $quitting->{refused} }, 3,
                   "$name - each client was posting until nginx was gone")
        or Test::More::diag(Test::More::explain($quitting->{refused}));

    # Redis holds exactly the acknowledged tickets (and the block's own
    # first one), each as it was sent, and none of the refused requests
    my %acked = (%{ $reload->{ok} }, %{ $quitting->{ok} });
    my %stored;
    for my $c (1 .. 3) {
        $stored{$_} = ["load$c", CsTest::ticket($_)->{issue} // '']
            for user_tickets("load$c");
    }
    my @missing = grep { !$stored{$_} } sort { $a <=> $b } keys %acked;
    Test::More::is(scalar @missing, 0, "$name - every 201 has its ticket")
        or Test::More::diag('missing: ' . first_ten(@missing));
    my @extra = grep { !$acked{$_} } sort { $a <=> $b } keys %stored;
    Test::More::is(scalar @extra, 0, "$name - no ticket without its 201")
        or Test::More::diag('extra: ' . first_ten(@extra));
    my @wrong = grep { $stored{$_} && "@{ $stored{$_} }" ne "@{ $acked{$_} }" }
                sort { $a <=> $b } keys %acked;
    Test::More::is(scalar @wrong, 0, "$name - each holds what was sent")
        or Test::More::diag('wrong: ' . first_ten(@wrong));
    my %issues = map { ("@$_" => 1) } values %stored;
    Test::More::is(scalar(grep { $issues{"@$_"} } @{ $quitting->{refused} }),
                   0, "$name - no refused request was stored");
    Test::More::is(seq(), 1 + keys %acked,
                   "$name - the sequence counted the 201s and no more");
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
