# The desk's Redis Functions library (ngx_http_cs_library.sh): one library,
# cs_ and 16 hex digits of its text's SHA-1, with a function per script,
# the reads flagged no-writes.  A worker that connects asks for it
# (FUNCTION LIST) and loads it only when it is missing, so that a Redis
# over its maxmemory or under CLIENT PAUSE WRITE still answers the reads;
# a library deleted under a running nginx is loaded again by the next call.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use POSIX ();

redis_start();

our $Admin = $CsApi::Admin;

our @Scripts = qw(intake me ticket_get agent_put agent_token agent_presence
                  agents_list agent_delete ticket_message ticket_status
                  ticket_assign ticket_fields tickets_list agent_queue sweep
                  ticket_feedback user_export user_erase metrics_get trends
                  insights_list);
our %Reads = map { $_ => 1 } qw(me ticket_get agents_list tickets_list
                                agent_queue metrics_get trends
                                insights_list);

# the libraries in Redis: name => { function => [flags] }
sub libraries {
    my %out;
    for my $lib (CsTest::redis()->function_list) {
        my %l = @$lib;
        $out{ $l{library_name} } = {
            map { my %f = @$_; ($f{name} => [ sort @{ $f{flags} } ]) }
            @{ $l{functions} } };
    }
    return \%out;
}

# the desk's own: the one named cs_<16 hex digits>
sub desk_library {
    my @names = grep { /^cs_[0-9a-f]{16}$/ } keys %{ libraries() };
    return @names == 1 ? $names[0] : undef;
}

# a command's calls since the last CONFIG RESETSTAT (or its
# rejected_calls, failed_calls: refused before it ran, failed as it ran)
sub calls {
    my ($cmd, $field) = @_;
    $field //= 'calls';
    my $info = CsTest::redis()->info('commandstats');
    return ($info->{"cmdstat_$cmd"} // '') =~ /(?:^|,)$field=(\d+)/ ? $1 : 0;
}

# n intakes at once, each from a child of its own: how many got 201
sub intakes_at_once {
    my ($n) = @_;
    my @kids;
    for my $i (1 .. $n) {
        defined(my $pid = fork()) or die "fork: $!";
        if (!$pid) {
            my ($st) = CsApi::api(POST => 'service', undef,
                                  qq({"userId":"u$i","issue":"at once"}));
            POSIX::_exit($st == 201 ? 0 : 1);
        }
        push @kids, $pid;
    }
    my $ok = 0;
    for my $pid (@kids) {
        waitpid($pid, 0);
        $ok++ if $? == 0;
    }
    return $ok;
}

# nginx's connections cut (the tests' own stay): its worker connects
# again, after its back-off, and its handshake is under way or done
sub reconnect {
    my $r = CsTest::redis();
    my @old = map { $_->{id} } CsTest::nginx_connections();
    $r->client_kill('ID', $_) for @old;
    my %old = map { $_ => 1 } @old;
    CsTest::wait_until(sub {
        grep { !$old{ $_->{id} } } CsTest::nginx_connections()
    }, 10) or die "nginx did not connect again\n";
}

check_stored_sections();

desk_blocks();

run_tests();

__DATA__

=== TEST 1: one library, a function per script, the reads flagged no-writes and nothing else
--- stored
my ($st) = admin(GET => 'me');
is($st, 200, "$name - a call");
my $lib = main::desk_library();
ok($lib, "$name - the library cs_<16 hex digits>") or return;
my $f = main::libraries()->{$lib};
is_deeply([ sort keys %$f ], [ sort map { "${lib}_$_" } @main::Scripts ],
          "$name - its functions");
is_deeply({ map { $_ => $f->{"${lib}_$_"} } @main::Scripts },
          { map { $_ => ($main::Reads{$_} ? ['no-writes'] : []) }
            @main::Scripts }, "$name - the flags");



=== TEST 2: a worker that connects finds the library and does not load it again
--- stored
admin(GET => 'me');
$r->config_resetstat;
main::reconnect();
my ($st) = admin(GET => 'me');
is($st, 200, "$name - a call after the reconnect");
ok(main::calls('function|list') >= 1, "$name - FUNCTION LIST asked");
is(main::calls('function|load'), 0, "$name - no FUNCTION LOAD");
is(main::calls('fcall'), 1, "$name - the call");



=== TEST 3: Redis over its maxmemory: a worker connects, the reads answer, an intake is refused and writes nothing; once under, intake again
--- stored
my $alice = new_agent('alice', 5);
my $t = intake('u1');
is($t->{state}, 'assigned', "$name - a ticket before");
my $before = store();
$r->config_set('maxmemory', 1);
my ($st, $b);
eval {
main::reconnect();
($st, $b) = admin(GET => 'me');
is($st, 200, "$name - GET me");
($st, $b) = api(GET => "tickets/$t->{ticketId}", $t->{token});
is($st, 200, "$name - the customer reads the ticket");
is($b->{state}, 'assigned', "$name - its state") or Test::More::diag(Test::More::explain($b));
($st, $b) = admin(GET => 'agents');
is($st, 200, "$name - GET agents");
($st, $b) = admin(GET => 'tickets?state=assigned');
is($st, 200, "$name - GET tickets");
($st, $b) = api(POST => 'service', undef, '{"userId":"u2","issue":"full"}');
is($st, 503, "$name - an intake: 503");
is($b->{error}, 'store_unavailable', "$name - store_unavailable");
($st) = api(POST => "tickets/$t->{ticketId}/messages", $alice,
            '{"body":"hello"}');
is($st, 503, "$name - a reply: 503");
};
my $err = $@;
CsTest::redis()->config_set('maxmemory', 0);
die $err if $err;
is(store(), $before, "$name - nothing written");
($st, $b) = api(POST => 'service', undef, '{"userId":"u2","issue":"room"}');
is($st, 201, "$name - under it again: 201");
--- error_log
OOM command not allowed



=== TEST 4: CLIENT PAUSE WRITE: a worker connects and the reads answer while the pause holds the writes
--- stored
my $t = intake('u1');
$r->client_pause(60000, 'WRITE');
my ($st, $b);
eval {
    main::reconnect();
    ($st, $b) = admin(GET => 'me');
    is($st, 200, "$name - GET me");
    ($st, $b) = api(GET => "tickets/$t->{ticketId}", $t->{token});
    is($st, 200, "$name - GET tickets/{id}");
};
my $err = $@;
$r->client_unpause;
die $err if $err;



=== TEST 5: the library deleted under a running nginx: the next call loads it again and answers; another build's library is left alone
--- stored
admin(GET => 'me');
my $lib = main::desk_library();
$r->function_load('REPLACE',
    "#!lua name=cs_0123456789abcdef\n"
    . "redis.register_function('cs_0123456789abcdef_me', "
    . "function() return 1 end)");
$r->function_delete($lib);
ok(!main::libraries()->{$lib}, "$name - deleted");
my ($st, $b) = api(POST => 'service', undef, '{"userId":"u1","issue":"x"}');
is($st, 201, "$name - an intake: 201");
is($b->{ticketId}, 1, "$name - ticket 1");
ok(main::libraries()->{$lib}, "$name - the library is back");
ok(main::libraries()->{cs_0123456789abcdef}, "$name - the other is there");
$r->function_delete('cs_0123456789abcdef');
--- error_log
lost the desk's library, loading it again



=== TEST 6: a library missing on a Redis over its maxmemory: the load is refused and logged, calls answer 503; once under, the library is loaded and the desk serves
--- stored
admin(GET => 'me');
my $lib = main::desk_library();
# over maxmemory first: a sweep's tick between the two finds no library
# to load again
$r->config_set('maxmemory', 1);
my ($st, $b);
eval {
    $r->function_delete($lib);
    $r->client_kill('ID', $_->{id}) for CsTest::nginx_connections();
    my $log = server_root() . '/logs/error.log';
    ok(CsTest::wait_until(sub {
           ($st, $b) = admin(GET => 'me');
           open my $fh, '<', $log or return 0;
           local $/;
           <$fh> =~ /FUNCTION LOAD of the desk's library failed: OOM/;
       }, 10), "$name - the refused load is logged");
    is($st, 503, "$name - GET me: 503");
};
my $err = $@;
CsTest::redis()->config_set('maxmemory', 0);
die $err if $err;
ok(CsTest::wait_until(sub { (admin(GET => 'me'))[0] == 200 }, 10),
   "$name - then 200");
ok(main::desk_library(), "$name - the library is there");
--- error_log
FUNCTION LOAD of the desk's library failed: OOM



=== TEST 7: FUNCTION FLUSH under calls in flight: one FUNCTION LOAD for all of them, and each is answered
--- stored
admin(GET => 'me');
# the counts first: a sweep's tick after the flush counts among the calls
$r->config_resetstat;
$r->function_flush;
# the calls wait in Redis (a write pauses) and meet the flushed library
# together once the pause ends
$r->client_pause(500, 'WRITE');
is(main::intakes_at_once(8), 8, "$name - 8 intakes at once: 201 each");
is(main::calls('function|load'), 1, "$name - one FUNCTION LOAD");
# more than one call met the flushed library: one load served them all
ok(main::calls('fcall', 'failed_calls') >= 2,
   "$name - calls that met it: " . main::calls('fcall', 'failed_calls'));
is($r->zcard('cs:state:queued'), 8, "$name - 8 tickets");
--- error_log
lost the desk's library, loading it again



=== TEST 8: per-call state never leaks from one call to the next: a desk of cs_agents, then a registry desk on the same Redis
--- config
location /static/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_key_prefix static:;
    cs_agents agent1 agent2;
}
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
--- request
PUT /static/agents/alice
{"capacity":2}
--- more_headers eval
"Authorization: Bearer $main::Admin\nContent-Type: application/json"
--- error_code: 409
--- response_body_like: "error":"static_agents"
--- stored
my ($st, $b) = api(POST => 'service', undef, '{"userId":"u1","issue":"x"}');
is($st, 201, "$name - the registry desk's intake: 201");
is($b->{state}, 'queued', "$name - queued: no registry agent");



=== TEST 9: the library lost and its load again refused (a Redis over its maxmemory): the call answers 503 and the log says why; the next call tries again
--- stored
admin(GET => 'me');
my $lib = main::desk_library();
$r->config_set('maxmemory', 1);
my @st;
eval {
    $r->function_delete($lib);
    $r->config_resetstat;
    push @st, (admin(GET => 'me'))[0] for 1 .. 2;
};
my $err = $@;
my $refused = main::calls('function|load', 'rejected_calls');
CsTest::redis()->config_set('maxmemory', 0);
die $err if $err;
is_deeply(\@st, [503, 503], "$name - GET me twice: 503 each");
ok($refused >= 2, "$name - a load tried for each ($refused refused)");
ok(CsTest::wait_until(sub { (admin(GET => 'me'))[0] == 200 }, 10),
   "$name - under it again: 200");
--- error_log
loading the lost library again failed: OOM
