# A ticket taken in: the 201 answer, and what it leaves in Redis (data
# model v1, but for privacy: the user's keys are named by an HMAC of the
# userId, kept in the ticket as userKey, and the event names the user by
# the event id of the user's record): the ticket hash, the agent's queue,
# the user's history, the ticket.created event and the routing state.  Routing (round_robin,
# least_loaded, no agents) and the Redis connection's directives (key
# prefix, database, unix socket, host name, password).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;

use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();

redis_start();

# A second redis-server that wants a password, for cs_redis_password: the
# shared one must stay open to every other block.
our $AuthPassword = 's3cr3t-Pa55';
my ($auth_pid, $auth_dir);
my $owner = $$;

sub auth_redis_start {
    my $port = CsTest::free_port();
    $auth_dir = "/tmp/cs-test-redis-auth-$port-$$";
    make_path($auth_dir);

    $auth_pid = fork() // die "fork: $!";
    if ($auth_pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec 'redis-server', '--port', $port, '--bind', '127.0.0.1',
             '--dir', $auth_dir, '--save', '', '--appendonly', 'no',
             '--daemonize', 'no', '--logfile', "$auth_dir/redis.log",
             '--requirepass', $AuthPassword
            or POSIX::_exit(127);
    }

    wait_until(sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
    }, 10) or die "the password redis-server did not start on $port\n";

    $ENV{TEST_NGINX_AUTH_REDIS_PORT} = $port;
}

sub auth_redis {
    return Redis->new(server => "127.0.0.1:$ENV{TEST_NGINX_AUTH_REDIS_PORT}",
                      password => $AuthPassword, reconnect => 0,
                      cnx_timeout => 2, read_timeout => 5);
}

END {
    if ($$ == $owner && $auth_pid) {
        kill 'TERM', $auth_pid;
        wait_until(sub { waitpid($auth_pid, POSIX::WNOHANG()) == $auth_pid },
                   10)
            or do { kill 'KILL', $auth_pid; waitpid($auth_pid, 0) };
        remove_tree($auth_dir) if !$ENV{TEST_NGINX_NO_CLEAN};
    }
}

auth_redis_start();


# ---- what Redis holds ----

sub list { my ($r, $key) = @_; return [ $r->lrange($key, 0, -1) ] }

# the stream's entries, oldest first, each a hash of its fields
sub events {
    my ($r, $key) = @_;
    return [ map { +{ @{ $_->[1] } } } $r->xrange($key, '-', '+') ];
}

# the ticket hash: createdAt within a few seconds of now, the rest exact
sub ticket_is {
    my ($name, $r, $key, $want) = @_;
    my %t = $r->hgetall($key);
    my $created = delete $t{createdAt};
    # privacy: the ticket names the user's keys (an HMAC of the userId)
    $want = { %$want, userKey => user_key($want->{userId}) };
    # an optional field not given may be absent or empty
    delete @t{ grep { ($t{$_} // 'x') eq '' } qw(category email agent) };
    my $now = Time::HiRes::time() * 1000;
    my $slack = valgrind() ? 60000 : 5000;
    Test::More::ok(defined $created && $created =~ /^\d{13}$/
                   && $created <= $now + 1000 && $created >= $now - $slack,
                   "$name - $key createdAt is now in ms")
        or Test::More::diag("createdAt: " . ($created // 'none')
                            . ", now: $now");
    Test::More::is_deeply(\%t, $want, "$name - $key fields");
}

# the connections that ran the intake script, as "db=N" each
sub script_conns {
    my ($r) = @_;
    return [ sort map { /\b(db=\d+)\b/ ? $1 : () }
             grep { /\bcmd=fcall\b/ } split /\n/, $r->client_list ];
}

# --- stored: Perl run after each response (see t/lib/CsCheck.pm)
check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2 agent3;
}
CONF

    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;

    $block->set_value('more_headers', 'Content-Type: application/json')
        unless defined $block->more_headers;

    $block->set_value('no_error_log', '[error]')
        unless defined $block->error_log || defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: a full ticket gets the exact 201 and is stored field by field
--- request
POST /api/service
{"userId":"u-42","issue":"The printer is on fire","category":"hardware","priority":"urgent","channel":"email","email":"ann@example.com"}
--- error_code: 201
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- stored
is($r->get('cs:ticket:seq'), 1, "$name - seq");
ticket_is($name, $r, 'cs:ticket:1', {
    id => 1, userId => 'u-42', issue => 'The printer is on fire',
    category => 'hardware', priority => 'urgent', channel => 'email',
    email => 'ann@example.com', state => 'assigned', agent => 'agent1' });
is_deeply(list($r, 'cs:queue:agent1'), [1], "$name - agent1's queue");
# privacy: the history is named by the userId's HMAC, and the event names
# the user by the random event id of the user's record, not by the userId
is_deeply([ user_tickets('u-42') ], [1], "$name - user history");
my $user = { $r->hgetall('cs:user:' . user_key('u-42')) };
like($user->{eventId} // '', qr/^[A-Za-z0-9_-]{22}$/,
     "$name - the user's record holds an event id");
is_deeply(events($r, 'cs:events'), [{
    type => 'ticket.created', ticketId => 1, user => $user->{eventId},
    agent => 'agent1', state => 'assigned', priority => 'urgent',
    channel => 'email' }], "$name - one ticket.created event");
is($r->get('cs:route:rr'), 1, "$name - round-robin turn taken");
is_deeply({ $r->hgetall('cs:route:last') }, { agent1 => 1 },
          "$name - agent1's last assignment");
is_deeply([ sort $r->keys('cs:queue:*') ], ['cs:queue:agent1'],
          "$name - no other queue");
is_deeply([ sort $r->keys('cs:ticket:*') ],
          ['cs:ticket:1', 'cs:ticket:1:events', 'cs:ticket:seq'],
          "$name - one ticket (and the index of its events)");
is_deeply([ $r->lrange('cs:ticket:1:events', 0, -1) ],
          [ map { $_->[0] } $r->xrange('cs:events', '-', '+') ],
          "$name - the ticket's events index names its entry");



=== TEST 2: a minimal ticket gets priority normal and channel api
--- request
POST /api/service
{"userId":"u1","issue":"hello"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- stored
ticket_is($name, $r, 'cs:ticket:1', {
    id => 1, userId => 'u1', issue => 'hello', priority => 'normal',
    channel => 'api', state => 'assigned', agent => 'agent1' });
my $ev = events($r, 'cs:events');
is(scalar @$ev, 1, "$name - one event");
is($ev->[0]{priority}, 'normal', "$name - event priority default");
is($ev->[0]{channel}, 'api', "$name - event channel default");
# privacy: the history is named by the userId's HMAC
is_deeply([ user_tickets('u1') ], [1], "$name - user history");



=== TEST 3: the ticket id continues cs:ticket:seq and the turn cs:route:rr
--- init
CsTest::flush_redis();
CsTest::redis()->set('cs:ticket:seq', 1041);
CsTest::redis()->set('cs:route:rr', 1);
--- request
POST /api/service
{"userId":"u1","issue":"hello"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1042,"agent":"agent2","state":"assigned"}
--- stored
is($r->get('cs:ticket:seq'), 1042, "$name - seq");
is($r->get('cs:route:rr'), 2, "$name - turn");
is($r->hget('cs:ticket:1042', 'agent'), 'agent2', "$name - ticket");
is_deeply(list($r, 'cs:queue:agent2'), [1042], "$name - queue");
is_deeply([ user_tickets('u1') ], [1042], "$name - history"); # by HMAC
is(events($r, 'cs:events')->[0]{ticketId}, 1042, "$name - event");
is($r->exists('cs:ticket:1'), 0, "$name - no ticket 1");



=== TEST 4: UTF-8 and escapes are stored decoded, byte for byte
--- request
POST /api/service
{"userId":"j\u00fcrgen","issue":"Drucker \ud83d\udd25 \"sofort\"\nbitte \u00bbhilfe\u00ab \\ \/","email":"j\u00fcrgen@example.com"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- stored
ticket_is($name, $r, 'cs:ticket:1', {
    id => 1, userId => "j\xc3\xbcrgen",
    issue => "Drucker \xf0\x9f\x94\xa5 \"sofort\"\nbitte \xc2\xbbhilfe\xc2\xab \\ /",
    email => "j\xc3\xbcrgen\@example.com", priority => 'normal',
    channel => 'api', state => 'assigned', agent => 'agent1' });
# privacy: named by the HMAC of the decoded user id
is_deeply([ user_tickets("j\xc3\xbcrgen") ], [1],
          "$name - history under the decoded user id");



=== TEST 5: round_robin goes agent1, agent2, agent3, agent1, ... exactly
--- request eval
[ map { "POST /api/service\n{\"userId\":\"u" . (2 - $_ % 2)
        . "\",\"issue\":\"issue $_\"}" } 1 .. 7 ]
--- error_code eval
[ (201) x 7 ]
--- response_body eval
[ map { '{"status":"success","message":"Request received and processed.",'
        . "\"ticketId\":$_,\"agent\":\"agent" . (($_ - 1) % 3 + 1)
        . '","state":"assigned"}' } 1 .. 7 ]
--- stored
my $id = $req_idx + 1;
my $agent = 'agent' . ($req_idx % 3 + 1);
is($r->hget("cs:ticket:$id", 'agent'), $agent, "$name - ticket $id agent");
is($r->get('cs:route:rr'), $id, "$name - turn $id");
if ($id == 7) {
    is_deeply(list($r, 'cs:queue:agent1'), [1, 4, 7], "$name - agent1");
    is_deeply(list($r, 'cs:queue:agent2'), [2, 5], "$name - agent2");
    is_deeply(list($r, 'cs:queue:agent3'), [3, 6], "$name - agent3");
    # privacy: the histories are named by the userIds' HMACs
    is_deeply([ user_tickets('u1') ], [1, 3, 5, 7], "$name - u1's history");
    is_deeply([ user_tickets('u2') ], [2, 4, 6], "$name - u2's history");
    is_deeply([ map { "$_->{ticketId}/$_->{agent}" }
                @{ events($r, 'cs:events') } ],
              [ map { "$_/agent" . (($_ - 1) % 3 + 1) } 1 .. 7 ],
              "$name - the events in order");
}



=== TEST 6: round_robin on one keep-alive connection
--- pipelined_requests eval
[ map { "POST /api/service\n{\"userId\":\"k\",\"issue\":\"issue $_\"}" }
  1 .. 4 ]
--- error_code eval
[ (201) x 4 ]
--- response_body eval
[ map { '{"status":"success","message":"Request received and processed.",'
        . "\"ticketId\":$_,\"agent\":\"agent" . (($_ - 1) % 3 + 1)
        . '","state":"assigned"}' } 1 .. 4 ]
--- stored
if ($req_idx == 3) {
    is_deeply(list($r, 'cs:queue:agent1'), [1, 4], "$name - agent1");
    is_deeply(list($r, 'cs:queue:agent2'), [2], "$name - agent2");
    is_deeply(list($r, 'cs:queue:agent3'), [3], "$name - agent3");
    is_deeply([ user_tickets('k') ], [1 .. 4], "$name - history"); # HMAC
    is(scalar @{ events($r, 'cs:events') }, 4, "$name - four events");
}



=== TEST 7: least_loaded takes the fewest open tickets, ties to the oldest last assignment
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2 agent3;
    cs_assign least_loaded;
}
--- init
CsTest::flush_redis();
my $r = CsTest::redis();
$r->rpush('cs:queue:agent1', 101, 102);
$r->rpush('cs:queue:agent2', 103);
$r->rpush('cs:queue:agent3', 104, 105, 106);
$r->hset('cs:route:last', 'agent1', 102, 'agent2', 103, 'agent3', 106);
$r->set('cs:ticket:seq', 200);
--- request eval
[ map { "POST /api/service\n{\"userId\":\"u$_\",\"issue\":\"issue $_\"}" }
  1 .. 5 ]
--- error_code eval
[ (201) x 5 ]
--- response_body eval
# open 2/1/3: agent2; 2/2/3 tie, agent1 assigned longer ago; 3/2/3: agent2;
# 3/3/3 tie, agent3 last assigned at 106; 3/3/4, agent1 (202) before agent2
[ map { '{"status":"success","message":"Request received and processed.",'
        . "\"ticketId\":$_->[0],\"agent\":\"$_->[1]\","
        . '"state":"assigned"}' }
  [201, 'agent2'], [202, 'agent1'], [203, 'agent2'], [204, 'agent3'],
  [205, 'agent1'] ]
--- stored
if ($req_idx == 4) {
    is_deeply(list($r, 'cs:queue:agent1'), [101, 102, 202, 205],
              "$name - agent1");
    is_deeply(list($r, 'cs:queue:agent2'), [103, 201, 203],
              "$name - agent2");
    is_deeply(list($r, 'cs:queue:agent3'), [104, 105, 106, 204],
              "$name - agent3");
    is_deeply({ $r->hgetall('cs:route:last') },
              { agent1 => 205, agent2 => 203, agent3 => 204 },
              "$name - last assignments");
    is($r->exists('cs:route:rr'), 0, "$name - no round-robin turn");
}



=== TEST 8: least_loaded gives a tie to an agent never assigned before
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2 agent3;
    cs_assign least_loaded;
}
--- init
CsTest::flush_redis();
CsTest::redis()->hset('cs:route:last', 'agent1', 7, 'agent2', 3);
CsTest::redis()->set('cs:ticket:seq', 10);
--- request eval
[ map { "POST /api/service\n{\"userId\":\"u$_\",\"issue\":\"issue $_\"}" }
  1 .. 4 ]
--- error_code eval
[ (201) x 4 ]
--- response_body eval
# all empty: agent3 was never assigned; then agent2 (3) before agent1 (7);
# then agent1, the only empty one; then 1/1/1, agent3 (11) is the oldest
[ map { '{"status":"success","message":"Request received and processed.",'
        . "\"ticketId\":$_->[0],\"agent\":\"$_->[1]\","
        . '"state":"assigned"}' }
  [11, 'agent3'], [12, 'agent2'], [13, 'agent1'], [14, 'agent3'] ]
--- stored
if ($req_idx == 3) {
    is_deeply(list($r, 'cs:queue:agent3'), [11, 14], "$name - agent3");
    is_deeply(list($r, 'cs:queue:agent2'), [12], "$name - agent2");
    is_deeply(list($r, 'cs:queue:agent1'), [13], "$name - agent1");
}



=== TEST 9: least_loaded breaks a tie of the never assigned in cs_agents order
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents zed amy bob;
    cs_assign least_loaded;
}
--- request eval
[ map { "POST /api/service\n{\"userId\":\"u\",\"issue\":\"issue $_\"}" }
  1 .. 4 ]
--- error_code eval
[ (201) x 4 ]
--- response_body eval
[ map { '{"status":"success","message":"Request received and processed.",'
        . "\"ticketId\":$_->[0],\"agent\":\"$_->[1]\","
        . '"state":"assigned"}' }
  [1, 'zed'], [2, 'amy'], [3, 'bob'], [4, 'zed'] ]
--- stored
if ($req_idx == 3) {
    is_deeply(list($r, 'cs:queue:zed'), [1, 4], "$name - zed");
    is_deeply(list($r, 'cs:queue:amy'), [2], "$name - amy");
    is_deeply(list($r, 'cs:queue:bob'), [3], "$name - bob");
}



=== TEST 10: without cs_agents a ticket is queued, unassigned
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
--- request eval
[ "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"first\"}",
  "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"second\",\"priority\":\"high\"}" ]
--- error_code eval
[201, 201]
--- response_body eval
[ '{"status":"success","message":"Request received and processed.","ticketId":1,"agent":null,"state":"queued"}',
  '{"status":"success","message":"Request received and processed.","ticketId":2,"agent":null,"state":"queued"}' ]
--- stored
my $id = $req_idx + 1;
ticket_is($name, $r, "cs:ticket:$id", {
    id => $id, userId => 'u1', issue => $id == 1 ? 'first' : 'second',
    priority => $id == 1 ? 'normal' : 'high', channel => 'api',
    state => 'queued' });
# v2: the backlog is the sorted set cs:backlog, in drain order (priority,
# then age), where v1 had the list cs:queue:unassigned: the high one first
is_deeply([ $r->zrange('cs:backlog', 0, -1) ], $id == 1 ? [1] : [2, 1],
          "$name - waiting in cs:backlog, by priority");
is_deeply([ $r->keys('cs:queue:*') ], [], "$name - no agent queue");
is_deeply([ user_tickets('u1') ], [1 .. $id], "$name - history"); # HMAC
my $ev = events($r, 'cs:events');
is(scalar @$ev, $id, "$name - events");
is($ev->[-1]{type}, 'ticket.created', "$name - event type");
is($ev->[-1]{ticketId}, $id, "$name - event ticket");
is($ev->[-1]{state}, 'queued', "$name - event state");
is($ev->[-1]{agent} // '', '', "$name - event without agent");



=== TEST 11: cs_key_prefix changes every key
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
    cs_key_prefix desk7:;
}
--- request
POST /api/service
{"userId":"u9","issue":"hello"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- stored
# state:assigned: v2 indexes every ticket by its state (GET tickets); the
# trends count it in its day's hash (the day and the hour), the surges in
# its minute
my $at = $r->hget('desk7:ticket:1', 'createdAt');
is_deeply([ sort $r->keys('*') ],
          # privacy: the user's history and record are named by an HMAC
          [ sort { $a cmp $b } (map { "desk7:$_" }
                qw(ticket:seq ticket:1 ticket:1:events queue:agent1 events route:rr
                   route:last state:assigned metrics recur:surge:none
                   recur:surge:none:minutes),
                'trend:' . ($at - $at % 86400000),
                'user:' . user_key('u9') . ':tickets',
                'user:' . user_key('u9')) ],
          "$name - every key under desk7:");
is($r->hget('desk7:ticket:1', 'agent'), 'agent1', "$name - the ticket");
is(events($r, 'desk7:events')->[0]{ticketId}, 1, "$name - the event");



=== TEST 12: directives at server level reach the location
--- config
cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
cs_key_prefix helpdesk/;
cs_agents ann bo;
cs_assign least_loaded;
location = /api/service {
    cs_service;
}
--- init
CsTest::flush_redis();
CsTest::redis()->rpush('helpdesk/queue:ann', 50);
--- request
POST /api/service
{"userId":"u1","issue":"hello"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"bo","state":"assigned"}
--- stored
is_deeply(list($r, 'helpdesk/queue:bo'), [1], "$name - bo's queue");
is($r->hget('helpdesk/ticket:1', 'agent'), 'bo', "$name - the ticket");
is_deeply([ $r->keys('cs:*') ], [], "$name - nothing under cs:");



=== TEST 13: cs_redis_database selects the database
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_database 5;
    cs_agents agent1;
}
--- request
POST /api/service
{"userId":"u1","issue":"hello"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- stored
is_deeply([ $r->keys('*') ], [], "$name - nothing in database 0");
$r->select(5);
ticket_is($name, $r, 'cs:ticket:1', {
    id => 1, userId => 'u1', issue => 'hello', priority => 'normal',
    channel => 'api', state => 'assigned', agent => 'agent1' });
is_deeply(list($r, 'cs:queue:agent1'), [1], "$name - queue in database 5");
# privacy: the history is named by the userId's HMAC
is_deeply(list($r, 'cs:user:' . user_key('u1') . ':tickets'), [1],
          "$name - history in 5");
is(scalar @{ events($r, 'cs:events') }, 1, "$name - event in 5");



=== TEST 14: cs_redis_server unix:/path
--- config
location = /api/service {
    cs_service;
    cs_redis_server unix:$TEST_NGINX_REDIS_SOCKET;
    cs_agents agent1;
}
--- request
POST /api/service
{"userId":"u1","issue":"over the socket"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- stored
is($r->hget('cs:ticket:1', 'issue'), 'over the socket', "$name - stored");
is_deeply(list($r, 'cs:queue:agent1'), [1], "$name - queue");



=== TEST 15: cs_redis_server with a host name resolved at start
--- config
location = /api/service {
    cs_service;
    cs_redis_server localhost:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- request
POST /api/service
{"userId":"u1","issue":"by name"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- stored
is($r->hget('cs:ticket:1', 'issue'), 'by name', "$name - stored");
is_deeply(list($r, 'cs:queue:agent1'), [1], "$name - queue");



=== TEST 16: cs_redis_password authenticates
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    cs_redis_password s3cr3t-Pa55;
    cs_agents agent1;
}
--- init
CsTest::flush_redis();
main::auth_redis()->flushall();
--- request
POST /api/service
{"userId":"u1","issue":"behind a password"}
--- error_code: 201
--- response_body chomp
{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}
--- stored
my $ar = auth_redis();
ticket_is($name, $ar, 'cs:ticket:1', {
    id => 1, userId => 'u1', issue => 'behind a password',
    priority => 'normal', channel => 'api', state => 'assigned',
    agent => 'agent1' });
is_deeply(list($ar, 'cs:queue:agent1'), [1], "$name - queue");
is_deeply([ $r->keys('*') ], [], "$name - nothing in the other redis");



=== TEST 17: a wrong cs_redis_password stores nothing and answers 503
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    cs_redis_password wrong-password;
    cs_agents agent1;
}
--- init
CsTest::flush_redis();
main::auth_redis()->flushall();
--- request
POST /api/service
{"userId":"u1","issue":"behind a password"}
--- error_code: 503
--- response_headers_like
Retry-After: \d+
--- response_body chomp
{"status":"error","error":"store_unavailable","message":"the ticket store is not reachable; retry later"}
--- error_log
connection set-up failed: WRONGPASS
--- stored
is_deeply([ auth_redis()->keys('*') ], [], "$name - nothing stored");



=== TEST 18: without cs_redis_password a protected redis answers 503
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    cs_agents agent1;
}
--- init
CsTest::flush_redis();
main::auth_redis()->flushall();
--- request
POST /api/service
{"userId":"u1","issue":"behind a password"}
--- error_code: 503
--- response_body_like: "error":"store_unavailable"
--- error_log
connection set-up failed: NOAUTH
--- stored
is_deeply([ auth_redis()->keys('*') ], [], "$name - nothing stored");



=== TEST 19: each database gets its own connection
--- config
location = /one {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_database 1;
}
location = /two {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_redis_database 2;
}
--- request eval
[ "POST /one\n{\"userId\":\"u1\",\"issue\":\"to one\"}",
  "POST /two\n{\"userId\":\"u2\",\"issue\":\"to two\"}" ]
--- error_code eval
[201, 201]
--- response_body eval
[ ('{"status":"success","message":"Request received and processed.","ticketId":1,"agent":null,"state":"queued"}') x 2 ]
--- stored
if ($req_idx == 1) {
    $r->select(1);
    is($r->hget('cs:ticket:1', 'issue'), 'to one', "$name - in database 1");
    $r->select(2);
    is($r->hget('cs:ticket:1', 'issue'), 'to two', "$name - in database 2");
    my $conns;
    ok(wait_until(sub { $conns = script_conns(redis());
                        "@$conns" eq 'db=1 db=2' }, 5),
       "$name - one connection per database") or diag("@$conns");
}



=== TEST 20: locations with the same server, database and password share a connection
--- config
location = /one {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
}
location = /two {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
}
--- request eval
[ "POST /one\n{\"userId\":\"u1\",\"issue\":\"to one\"}",
  "POST /two\n{\"userId\":\"u2\",\"issue\":\"to two\"}" ]
--- error_code eval
[201, 201]
--- response_body eval
[ '{"status":"success","message":"Request received and processed.","ticketId":1,"agent":"agent1","state":"assigned"}',
  '{"status":"success","message":"Request received and processed.","ticketId":2,"agent":"agent2","state":"assigned"}' ]
--- stored
if ($req_idx == 1) {
    is_deeply(list($r, 'cs:queue:agent2'), [2], "$name - one desk");
    my $conns;
    ok(wait_until(sub { $conns = script_conns(redis()); "@$conns" eq 'db=0' },
                  5),
       "$name - one connection") or diag("@$conns");
}
