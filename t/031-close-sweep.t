# cs_close_after: solved and auto_resolved tickets close by themselves,
# counted from the latest solve, by a sweep that one worker per desk runs
# from a timer, one host at a time (the desk's lock in Redis).  Tickets are
# seeded as the lifecycle scripts leave them (the hash, <prefix>closing
# scored by the latest solvedAt, <prefix>state:<state>), and driven end to
# end through the API (TEST 7).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use File::Temp qw(tempdir);
use Time::HiRes ();

master_on();
workers(2);

redis_start();

my $dir = tempdir(CLEANUP => 1);
our $Admin = $CsApi::Admin;

our $Lock = qr/^[^:]+:(\d+):[A-Za-z0-9_-]{22}$/;

# Redis' own time in ms, as the scripts take it
sub now_ms {
    my ($s, $us) = CsTest::redis()->time;
    return $s * 1000 + int($us / 1000);
}

# a ticket as the lifecycle scripts leave it; closing => 0 leaves it out
# of <prefix>closing, score => n lists it there under another score
sub seed {
    my (%t) = @_;
    my $p = delete $t{prefix} // 'cs:';
    my $r = CsTest::redis();
    my $id = $t{id};
    my $closing = delete $t{closing} // 1;
    my $score = delete $t{score} // $t{solvedAt};
    $t{createdAt} //= ($t{solvedAt} // now_ms()) - 60000;
    $t{updatedAt} //= $t{solvedAt} // $t{createdAt};
    $r->hset("${p}ticket:$id", %t);
    $r->zadd("${p}state:$t{state}", $id, $id);
    $r->zadd("${p}closing", $score, $id) if $closing;
}

sub closed_events {
    my ($p) = @_;
    return map { +{ @{ $_->[1] } } }
           grep { my %f = @{ $_->[1] }; $f{type} eq 'ticket.closed' }
           CsTest::redis()->xrange(($p // 'cs:') . 'events', '-', '+');
}

sub state_of {
    my ($id, $p) = @_;
    return CsTest::redis()->hget(($p // 'cs:') . "ticket:$id", 'state') // '';
}

# the pid in the lock's value, 0 when none
sub lock_pid {
    my ($p) = @_;
    my $v = CsTest::redis()->get(($p // 'cs:') . 'lock:sweep') // '';
    return $v =~ $main::Lock ? $1 : 0;
}

# An nginx of our own beside the test's, on the same Redis: 2 workers,
# a cs_api location whose desk is $prefix.  Returns its directory.
sub start_nginx {
    my ($name, $prefix, $close_after) = @_;
    my $root = "$dir/$name";
    mkdir $root;
    mkdir "$root/logs";
    my $port = CsTest::free_port();
    open my $c, '>', "$root/nginx.conf" or die;
    print $c map { "load_module $_;\n" }
             grep { length } split /\s+/, $ENV{TEST_NGINX_LOAD_MODULES};
    print $c <<"CONF";
daemon on;
master_process on;
worker_processes 2;
error_log $root/logs/error.log info;
pid $root/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        location /api/ {
            cs_api;
            cs_secret $ENV{TEST_NGINX_CS_SECRET};
            cs_key_prefix $prefix;
            cs_close_after $close_after;
            cs_redis_server 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
        }
    }
}
CONF
    close $c;
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    system($bin, '-p', "$root/", '-c', "$root/nginx.conf",
           '-e', "$root/logs/error.log");
    Test::More::ok(CsTest::wait_until(sub {
        my $m = pid_in("$root/logs/nginx.pid");
        my @w = $m > 0 ? workers_of($m) : ();
        return @w == 2;
    }, 10), "$name: nginx $name runs with 2 workers")
        or Test::More::diag(log_of("$root/logs/error.log"));
    push @main::Started, $root;
    return $root;
}

# a test that stops halfway leaves no nginx of ours behind
END {
    for my $root (@main::Started) {
        my $pid = pid_in("$root/logs/nginx.pid");
        kill 'TERM', $pid if $pid;
    }
}

# QUIT, and how long the master took to go (undef: it did not, in 20 s)
sub quit_nginx {
    my ($root) = @_;
    my $pid = pid_in("$root/logs/nginx.pid") or return undef;
    my $t0 = Time::HiRes::time();
    kill 'QUIT', $pid;
    CsTest::wait_until(sub { !kill 0, $pid }, 20) or do {
        kill 'KILL', $pid;
        return undef;
    };
    return Time::HiRes::time() - $t0;
}

sub log_of {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return <$fh>;
}

# the sweep script called as nginx calls it, from the test: FCALL of its
# function in the desk's library, loaded as cs_test
sub sweep {
    my ($r, @args) = @_;
    CsTest::load_desk($r);
    return $r->fcall('cs_test_sweep', @args);
}

check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('request', 'GET /api/me') unless defined $block->request;
    $block->set_value('more_headers', "Authorization: Bearer $main::Admin")
        unless defined $block->more_headers;
    $block->set_value('error_code', 200) unless defined $block->error_code;
    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: due tickets close: solved and auto_resolved, their hash, state indexes, closing and one event each (actor sweep); one solved recently stays solved; none closes before cs_close_after
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_close_after 1h;
}
--- init
CsTest::flush_redis();
my $now = main::now_ms();
main::seed(id => 1, state => 'solved', agent => 'alice',
           solvedAt => $now - 7200000);
main::seed(id => 2, state => 'auto_resolved', solvedAt => $now - 3600001);
main::seed(id => 3, state => 'solved', agent => 'bob',
           solvedAt => $now - 3540000);
# due two seconds from now
main::seed(id => 4, state => 'solved', agent => 'bob',
           solvedAt => $now - 3600000 + 2000);
--- stored
ok(CsTest::wait_until(sub { main::state_of(1) eq 'closed'
                            && main::state_of(2) eq 'closed' }, 10),
   "$name - tickets 1 and 2 are closed");
my %t = $r->hgetall('cs:ticket:1');
like($t{closedAt}, qr/^\d{13}$/, "$name - closedAt in ms");
is($t{updatedAt}, $t{closedAt}, "$name - updatedAt is closedAt");
ok($t{closedAt} - $t{solvedAt} >= 3600000,
   "$name - closed an hour or more after its solve");
is($t{agent}, 'alice', "$name - the agent stays");
is($r->zscore('cs:state:closed', $_), $_,
   "$name - $_ is in state:closed (score: the id)") for 1, 2;
is($r->zscore('cs:state:solved', 1), undef, "$name - 1 left state:solved");
is($r->zcard('cs:state:auto_resolved'), 0, "$name - 2 left state:auto_resolved");
is($r->zscore('cs:closing', $_), undef, "$name - $_ left closing") for 1, 2;
my @ev = grep { $_->{ticketId} <= 2 } main::closed_events();
is_deeply([ sort { $a->{ticketId} <=> $b->{ticketId} } @ev ],
          [ { type => 'ticket.closed', actor => 'sweep', ticketId => 1,
              from => 'solved' },
            { type => 'ticket.closed', actor => 'sweep', ticketId => 2,
              from => 'auto_resolved' } ],
          "$name - one ticket.closed each, actor sweep, from its state");
is(main::state_of(3), 'solved', "$name - ticket 3, solved 59 min ago, is not");
is($r->zscore('cs:closing', 3), $r->hget('cs:ticket:3', 'solvedAt'),
   "$name - 3 stays in closing");
is($r->zscore('cs:state:solved', 3), 3, "$name - 3 stays in state:solved");
ok(CsTest::wait_until(sub { main::state_of(4) eq 'closed' }, 10),
   "$name - ticket 4 closes once due");
my %t4 = $r->hgetall('cs:ticket:4');
ok($t4{closedAt} - $t4{solvedAt} >= 3600000,
   "$name - and not before: closed "
   . ($t4{closedAt} - $t4{solvedAt} - 3600000) . " ms after due");
is(main::state_of(3), 'solved', "$name - ticket 3 is still solved");
is(scalar(main::closed_events()), 3, "$name - three events in all");



=== TEST 2: the sweep is defensive: members that no longer stand for a solve (reopened, closed by hand, gone, a foreign value) are dropped untouched; one solved again is closed from its latest solve; each ticket closes once
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_close_after 1s;
}
--- init
CsTest::flush_redis();
my $now = main::now_ms();
my $r = CsTest::redis();
# reopened after its solve: assigned again, but still listed
main::seed(id => 1, state => 'assigned', agent => 'alice',
           solvedAt => $now - 60000, updatedAt => $now - 1000);
main::seed(id => 2, state => 'closed', solvedAt => $now - 60000,
           closedAt => $now - 30000);
$r->zadd('cs:closing', $now - 60000, 3);
$r->set('cs:ticket:6', 'not a hash');
$r->zadd('cs:closing', $now - 60000, 6);
# solved again just now, listed under its first solve
main::seed(id => 4, state => 'solved', solvedAt => $now,
           score => $now - 60000);
main::seed(id => 5, state => 'solved', solvedAt => $now - 60000);
$main::before1 = { $r->hgetall('cs:ticket:1') };
$main::before2 = { $r->hgetall('cs:ticket:2') };
--- stored
ok(CsTest::wait_until(sub { main::state_of(5) eq 'closed'
                            && !grep { defined $r->zscore('cs:closing', $_) }
                                     1, 2, 3, 6 }, 10),
   "$name - 5 closed; 1, 2, 3 and 6 dropped from closing");
is_deeply({ $r->hgetall('cs:ticket:1') }, $main::before1,
          "$name - the reopened ticket is untouched");
is_deeply({ $r->hgetall('cs:ticket:2') }, $main::before2,
          "$name - the ticket closed by hand is untouched");
is($r->exists('cs:ticket:3'), 0, "$name - no hash is made for 3");
is($r->get('cs:ticket:6'), 'not a hash', "$name - the foreign value stays");
is($r->zscore('cs:state:assigned', 1), 1, "$name - 1 stays in state:assigned");
is($r->zscore('cs:state:closed', 1), undef, "$name - 1 is not in state:closed");
ok(CsTest::wait_until(sub { main::state_of(4) eq 'closed' }, 10),
   "$name - 4 closes");
my %t4 = $r->hgetall('cs:ticket:4');
ok($t4{closedAt} - $t4{solvedAt} >= 1000,
   "$name - counted from its latest solve");
# one more ticket through, so that sweeps ran after every closing
main::seed(id => 7, state => 'solved', solvedAt => main::now_ms() - 5000);
ok(CsTest::wait_until(sub { main::state_of(7) eq 'closed' }, 10),
   "$name - 7 closes");
is_deeply([ sort map { "$_->{ticketId}:$_->{from}" } main::closed_events() ],
          [ '4:solved', '5:solved', '7:solved' ],
          "$name - one event per closed ticket, none for the others");
is_deeply([ $r->zrange('cs:state:closed', 0, -1) ], [2, 4, 5, 7],
          "$name - state:closed");
is($r->zcard('cs:closing'), 0, "$name - closing is empty");



=== TEST 3: a batch is bounded (100 a call) and the sweep comes back at once while there is more: 250 due tickets close well within one period
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_close_after 10s;
}
--- init
CsTest::flush_redis();
my $now = main::now_ms();
main::seed(id => $_, state => 'solved', solvedAt => $now - 60000 + $_)
    for 1 .. 250;
--- stored
ok(CsTest::wait_until(sub { $r->zcard('cs:state:closed') == 250 }, 10),
   "$name - 250 closed");
my @at = sort { $a <=> $b } map { $r->hget("cs:ticket:$_", 'closedAt') }
         1 .. 250;
my $spread = $at[-1] - $at[0];
SKIP: {
    skip 'timing under valgrind', 1 if CsTest::valgrind();
    ok($spread < 1000, "$name - within one period (1 s): ${spread} ms");
}
is(scalar(main::closed_events()), 250, "$name - 250 events");
is($r->zcard('cs:closing'), 0, "$name - closing is empty");
# the script itself, called as nginx calls it, on a desk of its own
my $then = main::now_ms() - 60000;
main::seed(prefix => 'unit:', id => $_, state => 'solved',
           solvedAt => $then) for 1 .. 250;
# ARGV: the prelude's five, cs_close_after, the lock's lifetime, the
# batch, the mode, cs_reassign_after, the routing settings
my @tail = (120000, 'round_robin', 60000, 0, 0);
my @calls = map { [ main::sweep($r, 1, 'unit:', 'sweep', 'me', '', '', '',
                               10000, 5000, 100, 'sweep', @tail) ] } 1 .. 4;
is_deeply(\@calls, [ [1, 100, 1, 0], [1, 100, 1, 0], [1, 50, 0, 0],
                     [1, 0, 0, 0] ],
          "$name - {held, closed, more, rerouted}: 100, 100, 50, then nothing");
is($r->get('unit:lock:sweep'), 'me', "$name - the caller holds the lock");
my $pttl = $r->pttl('unit:lock:sweep');
ok($pttl > 0 && $pttl <= 5000, "$name - for its lifetime ($pttl ms)");
is_deeply([ main::sweep($r, 1, 'unit:', 'sweep', 'other', '', '', '',
                        10000, 5000, 100, 'sweep', @tail) ], [0, 0, 0, 0],
          "$name - another caller is refused");
main::sweep($r, 1, 'unit:', 'sweep', 'other', '', '', '', 10000, 5000, 100,
            'release', @tail);
is($r->get('unit:lock:sweep'), 'me', "$name - and cannot release it");
main::sweep($r, 1, 'unit:', 'sweep', 'me', '', '', '', 10000, 5000, 100,
            'release', @tail);
is($r->exists('unit:lock:sweep'), 0, "$name - its holder releases it");
# a refused call (a foreign value at closing) writes nothing, the lock
# neither
$r->set('unit:closing', 'foreign');
my $res = eval { main::sweep($r, 1, 'unit:', 'sweep', 'me', '', '', '',
                             10000, 5000, 100, 'sweep', @tail); 'answered' }
          // $@;
like($res, qr/CSWRONGTYPE unit:closing/, "$name - refused, the key named");
is($r->exists('unit:lock:sweep'), 0, "$name - and the lock not taken");
$r->del('unit:closing');



=== TEST 4: two workers: one sweeps; the lock names it (host:pid:random) and lives ten periods
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_close_after 1s;
}
--- init
CsTest::flush_redis();
--- stored
my $master = pid_in(server_root() . '/logs/nginx.pid');
my @workers = workers_of($master);
is(scalar @workers, 2, "$name - two workers");
ok(CsTest::wait_until(sub { main::lock_pid() }, 10), "$name - the lock is taken")
    or diag($r->get('cs:lock:sweep'));
my $holder = main::lock_pid();
ok((grep { $_ == $holder } @workers), "$name - by a worker ($holder)");
my $pttl = $r->pttl('cs:lock:sweep');
ok($pttl > 0 && $pttl <= 1000, "$name - ten periods of 100 ms ($pttl ms)");
my $log = main::log_of(server_root() . '/logs/error.log');
my @lines = grep { /cs: this worker sweeps desk "cs:"/ }
            grep { my $l = $_; grep { $l =~ /\] $_#/ } @workers }
            split /\n/, $log;
is(scalar @lines, 1, "$name - one worker says it sweeps")
    or diag(join "\n", @lines);
like($lines[0] // '', qr/\] $holder#/, "$name - the lock's holder");



=== TEST 5: two nginx on one desk: one holds the lock and sweeps, the other waits; a reload and a quit hand the lock over at once (before it runs out), and the quit is not held up
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
--- init
CsTest::flush_redis();
--- stored
# a period of 1 s, a lock of 10 s: a hand-over faster than that is the
# lock given back
my $b = main::start_nginx('b', 'two:', '10s');
my @wb = workers_of(pid_in("$b/logs/nginx.pid"));
ok(CsTest::wait_until(sub { main::lock_pid('two:') }, 10),
   "$name - b takes the lock");
ok((grep { $_ == main::lock_pid('two:') } @wb), "$name - a worker of b");
my $c = main::start_nginx('c', 'two:', '10s');
my @wc = workers_of(pid_in("$c/logs/nginx.pid"));
my $holder = main::lock_pid('two:');
my ($changed, $t0) = (0, Time::HiRes::time());
while (Time::HiRes::time() - $t0 < 2.5) {
    $changed++ if main::lock_pid('two:') != $holder;
    Time::HiRes::sleep(0.1);
}
is($changed, 0, "$name - the holder keeps it while c ticks");
main::seed(prefix => 'two:', id => 1, state => 'solved',
           solvedAt => main::now_ms() - 60000);
ok(CsTest::wait_until(sub { main::state_of(1, 'two:') eq 'closed' }, 10),
   "$name - the desk is swept");
unlike(main::log_of("$c/logs/error.log"), qr/this worker sweeps/,
       "$name - c never sweeps");
# a reload: b's old worker hands the lock back as it goes
my $mb = pid_in("$b/logs/nginx.pid");
my $t1 = Time::HiRes::time();
kill 'HUP', $mb;
my %old = map { $_ => 1 } @wb;
ok(CsTest::wait_until(sub { my @w = workers_of($mb);
                            @wb = @w;
                            @w == 2 && !grep { $old{$_} } @w }, 20),
   "$name - b reloads");
ok(CsTest::wait_until(sub { my $p = main::lock_pid('two:');
                            grep { $_ == $p } @wb, @wc }, 20),
   "$name - a worker of the new generation holds the lock");
my $took = Time::HiRes::time() - $t1;
ok($took < 7, sprintf("$name - before the old one's lock ran out (%.1f s)",
                      $took));
# the holder quits: the other takes over at once
my ($x, $y, @wy) = (grep { $_ == main::lock_pid('two:') } @wb)
                   ? ($b, $c, @wc) : ($c, $b, @wb);
my $quit = main::quit_nginx($x);
ok(defined $quit && $quit < 5, "$name - the holder quits at once ("
   . (defined $quit ? sprintf('%.1f s', $quit) : 'never') . ')');
$t1 = Time::HiRes::time();
ok(CsTest::wait_until(sub { my $p = main::lock_pid('two:');
                            grep { $_ == $p } @wy }, 20),
   "$name - the other takes the lock");
$took = Time::HiRes::time() - $t1;
ok($took < 7, sprintf("$name - before the lock ran out (%.1f s)", $took));
$holder = main::lock_pid('two:');
like(main::log_of("$y/logs/error.log"),
     qr/\] $holder#\d+: cs: this worker sweeps desk "two:"/,
     "$name - and says so");
main::seed(prefix => 'two:', id => 2, state => 'solved',
           solvedAt => main::now_ms() - 60000);
ok(CsTest::wait_until(sub { main::state_of(2, 'two:') eq 'closed' }, 10),
   "$name - and sweeps");
ok(defined main::quit_nginx($y), "$name - it quits");
is($r->exists('two:lock:sweep'), 0, "$name - and hands the lock back");
for my $n ($b, $c) {
    unlike(main::log_of("$n/logs/error.log"), qr/\[(alert|crit|emerg)\]/,
           "$name - $n: no alert");
}



=== TEST 6: Redis restarted, the desk's library flushed, stopped past cs_redis_timeout, a foreign value at closing: the sweep logs what an operator needs, writes nothing, and carries on once Redis is right
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_timeout 1s;
    cs_close_after 1s;
}
--- init
CsTest::flush_redis();
--- stored
CsTest::redis_restart();
$r = CsTest::redis();
main::seed(id => 1, state => 'solved', solvedAt => main::now_ms() - 5000);
ok(CsTest::wait_until(sub { main::state_of(1) eq 'closed' }, 15),
   "$name - after a restart");
$r->function_flush;
main::seed(id => 2, state => 'solved', solvedAt => main::now_ms() - 5000);
ok(CsTest::wait_until(sub { main::state_of(2) eq 'closed' }, 10),
   "$name - after FUNCTION FLUSH");
$r->set('cs:closing', 'foreign');
my $log = server_root() . '/logs/error.log';
ok(CsTest::wait_until(sub {
       main::log_of($log) =~ /the sweep of desk "cs:" failed: CSWRONGTYPE cs:closing/
   }, 10), "$name - the log names the key");
is($r->get('cs:closing'), 'foreign', "$name - left as it is");
$r->del('cs:closing');
main::seed(id => 3, state => 'solved', solvedAt => main::now_ms() - 5000);
ok(CsTest::wait_until(sub { main::state_of(3) eq 'closed' }, 10),
   "$name - carries on");
CsTest::redis_signal('STOP');
ok(CsTest::wait_until(sub {
       main::log_of($log) =~ /did not answer the sweep of desk "cs:" in 1000 ms/
   }, 10), "$name - a sweep that Redis does not answer gives up");
CsTest::redis_signal('CONT');
main::seed(id => 4, state => 'solved', solvedAt => main::now_ms() - 5000);
ok(CsTest::wait_until(sub { main::state_of(4) eq 'closed' }, 15),
   "$name - and the next one closes");
is(scalar(main::closed_events()), 4, "$name - one event per ticket");



=== TEST 7: end to end: an agent solves two tickets; the customer writes again on one (reopened); the other closes by itself, the reopened one does not
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_close_after 2s;
}
--- init
CsTest::flush_redis();
--- stored
my $alice = CsApi::new_agent('alice', 5);
my ($one, $two, $three) = map { CsApi::intake("u-$_") } 1 .. 3;
is_deeply([ map { $_->{agent} } $one, $two, $three ], [ ('alice') x 3 ],
          "$name - alice has the three tickets");
for my $t ($one, $two) {
    my ($st, $res) = CsApi::api(POST => "tickets/$t->{ticketId}/status",
                                $alice, '{"state":"solved"}');
    is($st, 200, "$name - alice solves $t->{ticketId}");
}
my ($st) = CsApi::api(POST => "tickets/$two->{ticketId}/messages", $two->{token},
                      '{"body":"it is back"}');
is($st, 201, "$name - the customer writes again on $two->{ticketId}");
is(main::state_of($two->{ticketId}), 'assigned', "$name - reopened");
ok(CsTest::wait_until(sub { main::state_of($one->{ticketId}) eq 'closed' }, 10),
   "$name - $one->{ticketId} closes by itself");
my ($gst, $got) = CsApi::api(GET => "tickets/$one->{ticketId}", $one->{token});
is($got->{state}, 'closed', "$name - its customer reads it closed");
my %t = $r->hgetall("cs:ticket:$one->{ticketId}");
ok($t{closedAt} - $t{solvedAt} >= 2000, "$name - cs_close_after after the solve");
my (undef, $list) = CsApi::admin(GET => 'tickets?state=closed');
is_deeply([ map { $_->{ticketId} } @{ $list->{tickets} } ],
          [ $one->{ticketId} ], "$name - GET tickets?state=closed lists it");
# a solve after the reopened one's would-be closing: once it is closed,
# a sweep has passed the reopened one by
($st) = CsApi::api(POST => "tickets/$three->{ticketId}/status", $alice,
                   '{"state":"solved"}');
ok(CsTest::wait_until(sub { main::state_of($three->{ticketId}) eq 'closed' }, 10),
   "$name - $three->{ticketId} closes too");
is(main::state_of($two->{ticketId}), 'assigned',
   "$name - the reopened ticket does not close");
my @mine = map { "$_->{type}:$_->{ticketId}:" . ($_->{actor} // '') }
           grep { $_->{type} =~ /^ticket\.(status|closed)$/ }
           map { +{ @{ $_->[1] } } } $r->xrange('cs:events', '-', '+');
my %closed = map { $_->{ticketId} => $_->{from} } main::closed_events();
is_deeply(\%closed, { $one->{ticketId} => 'solved',
                      $three->{ticketId} => 'solved' },
          "$name - one ticket.closed each, from its state");
is_deeply(\@mine, [ "ticket.status:$one->{ticketId}:agent:alice",
                    "ticket.status:$two->{ticketId}:agent:alice",
                    "ticket.closed:$one->{ticketId}:sweep",
                    "ticket.status:$three->{ticketId}:agent:alice",
                    "ticket.closed:$three->{ticketId}:sweep" ],
          "$name - the events, in order");



=== TEST 8: the sweep appends its events after its writes: a stream that takes no entry more (its last id the last of the id space), or a foreign value at a due ticket's index of its events, fails the sweep before its first write; the ticket closes, with its event, once the store is mended
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_close_after 1s;
}
--- init
CsTest::flush_redis();
--- stored
my $log = server_root() . '/logs/error.log';
$r->xadd('cs:events', '18446744073709551615-18446744073709551615',
         'type', 'not the desk\'s');
main::seed(id => 1, state => 'solved', solvedAt => main::now_ms() - 5000);
ok(CsTest::wait_until(sub {
       main::log_of($log) =~ /the sweep of desk "cs:" failed: CSWRONGTYPE cs:events\b/
   }, 10), "$name - a full stream: the log names it");
is(main::state_of(1), 'solved', "$name - the ticket is not closed without its event");
is_deeply([ $r->zrange('cs:closing', 0, -1) ], [ 1 ], "$name - still due");
$r->del('cs:events');
ok(CsTest::wait_until(sub { main::state_of(1) eq 'closed' }, 10),
   "$name - the stream mended: it closes");
$r->set('cs:ticket:2:events', 'not mine');
main::seed(id => 2, state => 'solved', solvedAt => main::now_ms() - 5000);
ok(CsTest::wait_until(sub {
       main::log_of($log) =~ /the sweep of desk "cs:" failed: CSWRONGTYPE cs:ticket:\*:events/
   }, 10), "$name - a foreign index of events: the log names its kind");
is(main::state_of(2), 'solved', "$name - the ticket is not closed without its event");
$r->del('cs:ticket:2:events');
ok(CsTest::wait_until(sub { main::state_of(2) eq 'closed' }, 10),
   "$name - mended: it closes");
is_deeply([ map { $_->{ticketId} } main::closed_events() ], [ 1, 2 ],
          "$name - one event each");
is_deeply([ $r->lrange('cs:ticket:2:events', 0, -1) ],
          [ map { $_->[0] } grep { { @{ $_->[1] } }->{ticketId} == 2 } $r->xrange('cs:events', '-', '+') ],
          "$name - indexed beside the ticket");
