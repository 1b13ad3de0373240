# nginx -s reload under load on a cs_api location (behind `if` and `set`,
# two workers): clients work tickets through their whole life while nginx
# reloads; every call gets its 2xx, the old workers exit, the new ones
# serve, the sweep's timer goes on closing solved tickets from the new
# workers, and every invariant of the store holds afterwards.
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

# Each client works tickets until $dir/stop appears: intake, the customer
# reads it, the agent replies and solves it.  Every answer but the
# expected 2xx is written as "bad <step> <status> <error>"; a ticket
# worked to the end as "ok <id>".
sub start_load {
    my ($dir, $n, $agent) = @_;
    my @pids;
    for my $c (1 .. $n) {
        defined(my $pid = fork()) or die "fork: $!";
        if ($pid == 0) {
            open my $out, '>', "$dir/load.$c" or POSIX::_exit(1);
            $out->autoflush(1);
            my $bad = sub {
                my ($step, $st, $b) = @_;
                my $e = ref $b ? ($b->{error} // '') : substr($b // '', 0, 60);
                $e =~ s/\s+/ /g;
                print $out "bad $step $st $e\n";
            };
            for my $i (1 .. 100000) {
                last if -e "$dir/stop";
                my ($st, $b) = api(POST => 'service', undef,
                                   qq({"userId":"r$c","issue":"reload $i"}));
                if ($st != 201) { $bad->('intake', $st, $b); next }
                my ($id, $token) = @$b{qw(ticketId token)};
                ($st, $b) = api(GET => "tickets/$id", $token);
                if ($st != 200) { $bad->('read', $st, $b); next }
                ($st, $b) = api(POST => "tickets/$id/messages", $agent,
                                '{"body":"on it"}');
                if ($st != 201) { $bad->('reply', $st, $b); next }
                ($st, $b) = api(POST => "tickets/$id/status", $agent,
                                '{"state":"solved"}');
                if ($st != 200 || $b->{state} ne 'solved') {
                    $bad->('solve', $st, $b);
                    next;
                }
                print $out "ok $id\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    return @pids;
}

# waits for the clients: (ids worked to the end, bad lines)
sub load_results {
    my ($dir, @pids) = @_;
    waitpid($_, 0) for @pids;
    my (@ok, @bad);
    for my $f (glob "$dir/load.*") {
        open my $fh, '<', $f or next;
        while (my $line = <$fh>) {
            chomp $line;
            if ($line =~ /^ok (\d+)$/) {
                push @ok, $1;
            } else {
                push @bad, $line;
            }
        }
        unlink $f;
    }
    unlink "$dir/stop";
    return (\@ok, \@bad);
}

sub closed_count {
    return CsTest::redis()->zcard('cs:state:closed');
}

run_tests();

__DATA__

=== TEST 1: reload while clients work tickets through their life: every call is answered 2xx, the old workers exit, the new ones serve and sweep, the store holds every invariant
--- config
location /api/ {
    set $desk on;
    if ($desk = off) {
        return 404;
    }
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_presence_timeout 1h;
    cs_close_after 1s;
}
--- init
CsTest::flush_redis();
--- request
GET /api/me
--- more_headers eval
"Authorization: Bearer $main::Admin"
--- stored
my $dir = Test::Nginx::Util::server_root();
my $agent = new_agent('a1', 1000);
my $master = master_pid();
my @before = workers_of($master);
is(scalar @before, 2, "$name - two workers");

my @load = main::start_load($dir, 3, $agent);
my $seq = sub { $r->get('cs:ticket:seq') // 0 };
my $at = $seq->();
ok(wait_until(sub { $seq->() > $at + 20 }, 20),
   "$name - tickets before the reload");
kill 'HUP', $master;
ok(wait_until(sub {
    my @now = workers_of($master);
    return @now == 2 && !grep { my $p = $_; grep { $_ == $p } @before } @now;
}, 20), "$name - the old workers exited after the reload");

# the new workers serve, and their sweep closes what they solve
$at = $seq->();
my $closed = main::closed_count();
ok(wait_until(sub { $seq->() > $at + 20 }, 20),
   "$name - tickets from the new workers");
ok(wait_until(sub { main::closed_count() > $closed }, 20),
   "$name - the new workers' sweep closes solved tickets");
open my $stop, '>', "$dir/stop" or die "$dir/stop: $!";
close $stop;
my ($ok, $bad) = main::load_results($dir, @load);
is(scalar @$bad, 0, "$name - every call across the reload got its 2xx")
    or diag(join "\n", @$bad[0 .. ($#$bad < 9 ? $#$bad : 9)]);
ok(@$ok > 40, "$name - tickets worked to the end: " . scalar @$ok);

# each ticket worked to the end is solved or closed, and the sweep closes
# them all within cs_close_after and a few ticks
my %state = map { $_ => $r->hget("cs:ticket:$_", 'state') } @$ok;
is(scalar(grep { $state{$_} !~ /^(solved|closed)$/ } @$ok), 0,
   "$name - every ticket solved or closed");
ok(wait_until(sub { $r->zcard('cs:state:solved') == 0 }, 20),
   "$name - the sweep closes every solved ticket");
is(closed_count(), $seq->(), "$name - every ticket stored is closed");
invariants_hold($name);
