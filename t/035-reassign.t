# cs_reassign_after: the desk's sweep sends the assigned tickets of an agent
# that has been offline for cs_reassign_after back to routing (never to it),
# counted from the moment it became offline: it said offline, or its
# heartbeat lapsed (lastSeen + cs_presence_timeout).  Its pending tickets
# stay; away is not offline; when it returns, its re-routed tickets do not
# come back to it.  Agents and tickets go through the API; the script is
# also called directly (TEST 7) for its batch, its proofs and cs_agents,
# and fed a large batch through nginx (TEST 8).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;

redis_start();

our $Admin = $CsApi::Admin;

# the agents' tokens, by name, for the block that made them
our %Token;

# Redis' own time in ms, as the scripts take it
sub now_ms {
    my ($s, $us) = CsTest::redis()->time;
    return $s * 1000 + int($us / 1000);
}

# a presence call (also the heartbeat); true when it is taken
sub say {
    my ($name, $status) = @_;
    my ($st) = CsApi::api(PUT => "agents/$name/presence", $Token{$name},
                          '{"status":"' . ($status // 'online') . '"}');
    return $st == 200;
}

# The agents around the one under test must not lapse however slow the
# machine (cs_presence_timeout is 1 s): their last heartbeat is held an
# hour ahead.  The agent under test lapses by its own clock: a presence
# call sets its lastSeen to now again.
sub pin {
    my ($name) = @_;
    CsTest::redis()->hset("cs:agent:$name", lastSeen => now_ms() + 3600000);
}

# says so, and holds the heartbeat
sub hold {
    my ($name, $status) = @_;
    say($name, $status) or die "presence of $name\n";
    pin($name);
}

# an agent made through the API, with these skills, online (or as said)
# and held there
sub agent {
    my ($name, $capacity, $status, @skills) = @_;
    $Token{$name} = CsApi::new_agent($name, $capacity, $status);
    if (@skills) {
        my ($st) = CsApi::admin(PUT => "agents/$name",
                                qq({"capacity":$capacity,"skills":[)
                                . join(',', map { qq("$_") } @skills) . ']}');
        die "skills of $name: $st\n" unless $st == 200;
    }
    pin($name);
}

# tickets that routing gives to this agent; the ids, or a death naming
# the one that went elsewhere
sub tickets_for {
    my ($name, @fields) = @_;
    my @ids;
    for my $f (@fields) {
        my $t = CsApi::intake('u-' . int(rand(1e9)), %$f);
        die "ticket $t->{ticketId} went to " . ($t->{agent} // 'the backlog')
            . "\n" unless ($t->{agent} // '') eq $name;
        push @ids, $t->{ticketId};
    }
    return @ids;
}

# the agent puts these of its tickets in pending
sub pend {
    my ($name, @ids) = @_;
    for my $id (@ids) {
        my ($st) = CsApi::api(POST => "tickets/$id/status", $Token{$name},
                              '{"state":"pending"}');
        die "pending $id: $st\n" unless $st == 200;
    }
}

sub ticket_of {
    my ($id, $p) = @_;
    return { CsTest::redis()->hgetall(($p // 'cs:') . "ticket:$id") };
}

sub agent_of {
    my ($name, $p) = @_;
    return { CsTest::redis()->hgetall(($p // 'cs:') . "agent:$name") };
}

sub rerouted_events {
    my ($p) = @_;
    return map { +{ @{ $_->[1] } } }
           grep { my %f = @{ $_->[1] }; $f{type} eq 'ticket.rerouted' }
           CsTest::redis()->xrange(($p // 'cs:') . 'events', '-', '+');
}

# the backlog, in its drain order
sub backlog {
    my ($p) = @_;
    return [ CsTest::redis()->zrange(($p // 'cs:') . 'backlog', 0, -1) ];
}

sub queue {
    my ($name, $p) = @_;
    return [ CsTest::redis()->lrange(($p // 'cs:') . "queue:$name", 0, -1) ];
}

# polls until these tickets have left the agent, for good
sub wait_moved {
    my ($from, $ids) = @_;
    return CsTest::wait_until(sub {
        return !grep { (ticket_of($_)->{agent} // '') eq $from
                       || ticket_of($_)->{state} ne
                          (ticket_of($_)->{agent} ? 'assigned' : 'queued') }
                     @$ids;
    }, 15);
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
    $block->set_value('init', 'CsTest::flush_redis(); %main::Token = ();')
        unless defined $block->init;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_presence_timeout 1s;
    cs_reassign_after 1s;
}
CONF
    $block->set_value('request', 'GET /api/me') unless defined $block->request;
    $block->set_value('more_headers', "Authorization: Bearer $main::Admin")
        unless defined $block->more_headers;
    $block->set_value('error_code', 200) unless defined $block->error_code;
    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n[error]")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: alice says offline: cs_reassign_after later her assigned tickets go to bob (queues, loads, states, previousAgent, one ticket.rerouted each, actor sweep); her pending ones stay in her queue
--- stored
main::agent('alice', 10);
my @mine = main::tickets_for('alice', ({}) x 5);
my @pending = @mine[1, 3];
my @assigned = @mine[0, 2, 4];
main::pend('alice', @pending);
main::agent('bob', 10);
ok(main::say('alice', 'offline'), "$name - alice says offline");
my $since = main::agent_of('alice')->{offlineSince};
like($since, qr/^\d{13}$/, "$name - offlineSince is kept, in ms");
ok(main::wait_moved('alice', \@assigned),
   "$name - her assigned tickets left her");
for my $id (@assigned) {
    my $t = main::ticket_of($id);
    is("$t->{state} $t->{agent} $t->{previousAgent}", 'assigned bob alice',
       "$name - $id: assigned to bob, previousAgent alice");
    ok(!exists $t->{releasedBy}, "$name - $id: placed, so no releasedBy");
    ok($t->{updatedAt} - $since >= 1000,
       "$name - $id: not before cs_reassign_after ("
       . ($t->{updatedAt} - $since) . " ms)");
    is($r->zscore('cs:state:assigned', $id), $id,
       "$name - $id: state:assigned");
}
is_deeply(main::queue('bob'), \@assigned, "$name - bob's queue");
is_deeply(main::queue('alice'), \@pending,
          "$name - alice keeps her pending ones");
for my $id (@pending) {
    my $t = main::ticket_of($id);
    is("$t->{state} $t->{agent}", 'pending alice',
       "$name - $id stays pending, hers");
    ok(!exists $t->{previousAgent}, "$name - $id: no previousAgent");
}
my $agents = CsApi::agents_by_name();
is($agents->{alice}{load}, 0, "$name - alice's load is 0");
is($agents->{bob}{load}, 3, "$name - bob's load is 3");
is($agents->{alice}{status}, 'offline', "$name - alice is offline");
is_deeply([ sort { $a->{ticketId} <=> $b->{ticketId} }
            main::rerouted_events() ],
          [ map { { type => 'ticket.rerouted', actor => 'sweep',
                    ticketId => $_, from => 'alice', to => 'bob' } }
            @assigned ],
          "$name - one ticket.rerouted each");
is_deeply(main::backlog(), [], "$name - the backlog is empty");
# the lock lives ten ticks: 1 s for a tick of cs_reassign_after / 10, not
# 10 s for one of cs_close_after (4d) / 10, at most 1 s
my $pttl = $r->pttl('cs:lock:sweep');
ok($pttl > 0 && $pttl <= 1000, "$name - the tick follows cs_reassign_after "
   . "($pttl ms of the lock left)");
# the sweep goes on; nothing moves twice
ok(CsTest::wait_until(sub { main::now_ms() - $since > 2500 }, 10),
   "$name - a second later");
is(scalar(main::rerouted_events()), 3, "$name - still three events");
is_deeply(main::queue('alice'), \@pending,
          "$name - alice's queue is unchanged");
CsApi::invariants_hold($name);



=== TEST 2: alice's heartbeat lapses (no presence call): cs_presence_timeout plus cs_reassign_after after her last heartbeat, her assigned tickets go to bob; her pending one stays; when she then says offline, offlineSince is the lapse, and saying it again keeps it
--- stored
main::agent('alice', 10);
my @mine = main::tickets_for('alice', ({}) x 3);
main::pend('alice', $mine[2]);
my @assigned = @mine[0, 1];
main::agent('bob', 10);
# her last heartbeat: from now on she lets it lapse
ok(main::say('alice'), "$name - alice's last heartbeat");
my $seen = main::agent_of('alice')->{lastSeen};
is(main::agent_of('alice')->{status}, 'online', "$name - alice said online");
ok(main::wait_moved('alice', \@assigned),
   "$name - her assigned tickets left her");
for my $id (@assigned) {
    my $t = main::ticket_of($id);
    is("$t->{state} $t->{agent} $t->{previousAgent}", 'assigned bob alice',
       "$name - $id: assigned to bob, previousAgent alice");
    ok($t->{updatedAt} - $seen >= 2000,
       "$name - $id: not before timeout plus reassign ("
       . ($t->{updatedAt} - $seen) . " ms after her last heartbeat)");
}
is_deeply(main::queue('alice'), [ $mine[2] ], "$name - her pending one stays");
is_deeply(main::queue('bob'), \@assigned, "$name - bob's queue");
is(CsApi::agents_by_name()->{alice}{load}, 0, "$name - alice's load is 0");
is(CsApi::agents_by_name()->{bob}{load}, 2, "$name - bob's load is 2");
is_deeply([ map { "$_->{ticketId}:$_->{from}:$_->{to}:$_->{actor}" }
            main::rerouted_events() ],
          [ map { "$_:alice:bob:sweep" } @assigned ], "$name - the events");
ok(main::say('alice', 'offline'), "$name - alice says offline");
is(main::agent_of('alice')->{offlineSince}, $seen + 1000,
   "$name - offlineSince: her lapse, lastSeen + cs_presence_timeout");
ok(main::say('alice', 'offline'), "$name - and again");
is(main::agent_of('alice')->{offlineSince}, $seen + 1000, "$name - kept");
my ($st) = CsApi::admin(PUT => 'agents/carol', '{"capacity":1}');
is($st, 201, "$name - carol is created");
my $c = main::agent_of('carol');
is($c->{offlineSince}, $c->{createdAt},
   "$name - a new agent: offline since its creation");
CsApi::invariants_hold($name);



=== TEST 3: no one eligible: the tickets go to the backlog (queued, no agent, previousAgent alice, in order); her pending one stays
--- stored
main::agent('alice', 10);
my @mine = main::tickets_for('alice', {}, {}, {},
                             { priority => 'urgent' });
main::pend('alice', $mine[1]);
my @assigned = @mine[0, 2, 3];
# bob is online but full; carol is away
main::agent('bob', 1);
main::tickets_for('bob', {});
main::agent('carol', 5, 'away');
ok(main::say('alice', 'offline'), "$name - alice says offline");
ok(main::wait_moved('alice', \@assigned),
   "$name - her assigned tickets left her");
is_deeply(main::backlog(), [ @assigned[2, 0, 1] ],
          "$name - in the backlog, in its order: the urgent one first");
for my $id (@assigned) {
    my $t = main::ticket_of($id);
    is($t->{state}, 'queued', "$name - $id queued");
    ok(!exists $t->{agent}, "$name - $id has no agent");
    is($t->{previousAgent}, 'alice', "$name - $id: previousAgent alice");
    is($t->{releasedBy}, 'alice', "$name - $id: waits, released by alice");
    is($r->zscore('cs:state:queued', $id), $id, "$name - $id: state:queued");
    is($r->zscore('cs:state:assigned', $id), undef,
       "$name - $id: not in state:assigned");
}
is_deeply(main::queue('alice'), [ $mine[1] ], "$name - her pending one stays");
is(CsApi::agents_by_name()->{alice}{load}, 0, "$name - alice's load is 0");
is(CsApi::agents_by_name()->{bob}{load}, 1, "$name - bob's load is unchanged");
is_deeply([ map { "$_->{ticketId}:$_->{from}:$_->{to}" }
            main::rerouted_events() ],
          [ map { "$_:alice:" } @assigned ],
          "$name - the events name no agent");
my (undef, $list) = CsApi::admin(GET => 'tickets?state=queued');
is_deeply([ map { $_->{ticketId} } @{ $list->{tickets} } ],
          [ @assigned[2, 0, 1] ],
          "$name - GET tickets?state=queued lists them");
CsApi::invariants_hold($name);



=== TEST 4: alice comes back online: her re-routed tickets do not come back to her, not even from the backlog, not with more capacity; a new ticket goes to her; bob, online, takes the backlog
--- stored
main::agent('alice', 3);
my @assigned = main::tickets_for('alice', ({}) x 3);
ok(main::say('alice', 'offline'), "$name - alice says offline");
ok(main::wait_moved('alice', \@assigned), "$name - her tickets left her");
is_deeply(main::backlog(), \@assigned, "$name - for the backlog");
my ($st, $p) = CsApi::api(PUT => 'agents/alice/presence', $main::Token{alice},
                          '{"status":"online"}');
is($p->{taken}, 0, "$name - and takes none of them");
main::pin('alice');
($st) = CsApi::admin(PUT => 'agents/alice', '{"capacity":5}');
is($st, 200, "$name - more capacity");
is_deeply(main::backlog(), \@assigned,
          "$name - still none: the backlog keeps them");
is_deeply(main::queue('alice'), [], "$name - her queue is empty");
my $new = CsApi::intake('u-new');
is($new->{agent}, 'alice', "$name - a new ticket goes to her");
is_deeply(main::queue('alice'), [ $new->{ticketId} ], "$name - her queue");
main::agent('bob', 5);
is_deeply(main::queue('bob'), \@assigned, "$name - bob takes the backlog");
is_deeply(main::backlog(), [], "$name - which is empty");
is(scalar(main::rerouted_events()), 3, "$name - three ticket.rerouted");
# bob goes offline in turn: his tickets may go to alice now (another agent
# let them go), never back to bob
ok(main::say('bob', 'offline'), "$name - bob says offline");
ok(main::wait_moved('bob', \@assigned),
   "$name - bob's tickets left him");
is_deeply([ map { main::ticket_of($_)->{agent} } @assigned ],
          [ ('alice') x 3 ], "$name - to alice");
is_deeply([ map { main::ticket_of($_)->{previousAgent} } @assigned ],
          [ ('bob') x 3 ], "$name - previousAgent bob");
is_deeply([ grep { exists main::ticket_of($_)->{releasedBy} } @assigned ],
          [], "$name - placed: no releasedBy");
CsApi::invariants_hold($name);



=== TEST 5: away is not offline: alice, away with a fresh heartbeat, keeps her tickets while carol's, offline, go to bob
--- stored
main::agent('alice', 5);
my @hers = main::tickets_for('alice', ({}) x 2);
main::hold('alice', 'away');
main::agent('carol', 5);
my @carols = main::tickets_for('carol', {});
main::agent('bob', 5);
ok(main::say('carol', 'offline'), "$name - carol says offline");
my $since = main::agent_of('carol')->{offlineSince};
ok(main::wait_moved('carol', \@carols),
   "$name - carol's ticket left her");
is(main::ticket_of($carols[0])->{agent}, 'bob', "$name - to bob");
# the sweep ran past cs_reassign_after after alice said away: hers stay
ok(main::ticket_of($carols[0])->{updatedAt} - $since >= 1000,
   "$name - after cs_reassign_after");
is_deeply(main::queue('alice'), \@hers, "$name - alice keeps her queue");
is_deeply([ map { main::ticket_of($_)->{state} } @hers ],
          [ 'assigned', 'assigned' ], "$name - assigned");
is(CsApi::agents_by_name()->{alice}{load}, 2, "$name - her load");
is(CsApi::agents_by_name()->{alice}{status}, 'away', "$name - she is away");
is_deeply([ map { $_->{ticketId} } main::rerouted_events() ], \@carols,
          "$name - one event, carol's");
CsApi::invariants_hold($name);



=== TEST 6: re-routing follows the skills rules: a ticket of a category goes to the agent that lists it, one without a category to any, one whose category only another skilled agent lists waits in the backlog
--- stored
main::agent('alice', 10);
my @ids = main::tickets_for('alice', { category => 'shipping' },
                            { category => 'billing' }, {});
main::agent('bob', 10, 'online', 'shipping');
main::agent('dan', 10, 'online', 'returns');
ok(main::say('alice', 'offline'), "$name - alice says offline");
ok(main::wait_moved('alice', \@ids),
   "$name - her tickets left her");
is(main::ticket_of($ids[0])->{agent}, 'bob', "$name - shipping to bob");
is(main::ticket_of($ids[1])->{state}, 'queued',
   "$name - billing: bob and dan list other skills, so the backlog");
like(main::ticket_of($ids[2])->{agent}, qr/^(bob|dan)$/,
     "$name - no category: to an online agent");
is_deeply(main::backlog(), [ $ids[1] ], "$name - the backlog");
is_deeply({ map { $_->{ticketId} => $_->{to} } main::rerouted_events() },
          { $ids[0] => 'bob', $ids[1] => '',
            $ids[2] => main::ticket_of($ids[2])->{agent} },
          "$name - the events");
CsApi::invariants_hold($name);



=== TEST 7: the script: at most a batch a call (100), more while there is more, idempotent; a foreign value at a key it may write fails the call with nothing written; a desk of cs_agents re-routes nothing
--- stored
my $now = main::now_ms();
# alice, offline for ten seconds, 250 assigned tickets and 2 pending
$r->sadd('unit:agents', 'alice');
$r->hset('unit:agent:alice', name => 'alice', status => 'offline',
         lastSeen => $now - 10000, offlineSince => $now - 10000,
         createdAt => $now - 60000, capacity => 300, load => 250);
for my $id (1 .. 252) {
    my $state = $id > 250 ? 'pending' : 'assigned';
    $r->hset("unit:ticket:$id", state => $state, agent => 'alice',
             createdAt => $now - 20000, updatedAt => $now - 20000);
    $r->zadd("unit:state:$state", $id, $id);
    $r->rpush('unit:queue:alice', $id);
}
my @argv = ('sweep', 'me', '', '', '', 345600000, 5000, 100, 'sweep', 1000,
            'round_robin', 60000, 0, 0);
my @calls = map { [ main::sweep($r, 1, 'unit:', @argv) ] } 1 .. 4;
is_deeply(\@calls, [ [1, 0, 1, 100], [1, 0, 1, 100], [1, 0, 0, 50],
                     [1, 0, 0, 0] ],
          "$name - {held, closed, more, rerouted}: 100, 100, 50, then none");
is($r->zcard('unit:backlog'), 250, "$name - 250 in the backlog");
is_deeply([ $r->lrange('unit:queue:alice', 0, -1) ], [251, 252],
          "$name - the pending ones stay");
is($r->hget('unit:agent:alice', 'load'), 0, "$name - load 0");
is($r->zcard('unit:state:queued'), 250, "$name - state:queued");
is($r->zcard('unit:state:assigned'), 0, "$name - state:assigned");
is($r->xlen('unit:events'), 250, "$name - one event each");
is_deeply([ main::sweep($r, 1, 'unit:', @argv) ], [1, 0, 0, 0],
          "$name - nothing more");
# not yet due: offline for 1 s, cs_reassign_after 2 s
$r->hset('unit:agent:alice', offlineSince => main::now_ms() - 1000);
$r->hset('unit:ticket:251', state => 'assigned');
$r->hincrby('unit:agent:alice', 'load', 1);
my @later = @argv;
$later[9] = 2000;
is_deeply([ main::sweep($r, 1, 'unit:', @later) ], [1, 0, 0, 0],
          "$name - offline for less than cs_reassign_after: it keeps them");
# a foreign value where routing may write: refused, named, nothing written
$r->sadd('unit:agents', 'bob');
$r->hset('unit:agent:bob', name => 'bob', status => 'online',
         lastSeen => main::now_ms(), capacity => 5, load => 0);
$r->set('unit:queue:bob', 'foreign');
# the desk of this test's keys: nginx sweeps its own (cs:) beside it
my $unit = sub { join "\n", grep { /^unit:/ } split /\n/, CsApi::store() };
my $before = $unit->();
my $res = eval { main::sweep($r, 1, 'unit:', @argv); 'answered' } // $@;
like($res, qr/CSWRONGTYPE unit:queue:bob/, "$name - the key is named");
is($unit->(), $before, "$name - nothing written");
$r->del('unit:queue:bob');
is_deeply([ main::sweep($r, 1, 'unit:', @argv) ], [1, 0, 0, 1],
          "$name - once it is gone, the ticket moves");
is($r->hget('unit:ticket:251', 'agent'), 'bob', "$name - to bob");
# cs_agents: no registry to re-route from
$r->hset('unit:ticket:252', state => 'assigned');
$r->hincrby('unit:agent:alice', 'load', 1);
my @static = @argv;
$static[4] = '1';
is_deeply([ main::sweep($r, 1, 'unit:', @static) ], [1, 0, 0, 0],
          "$name - with cs_agents, nothing");
is($r->hget('unit:ticket:252', 'agent'), 'alice', "$name - the ticket stays");



=== TEST 8: through nginx, a full batch brings the sweep back at once: the 250 assigned tickets of an agent offline for long all reach the backlog within one tick (1 s)
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_reassign_after 10s;
}
--- stored
my $now = main::now_ms();
$r->hset('cs:agent:alice', name => 'alice', status => 'offline',
         lastSeen => $now - 60000, offlineSince => $now - 60000,
         createdAt => $now - 120000, capacity => 300, load => 250);
for my $id (1 .. 250) {
    $r->hset("cs:ticket:$id", id => $id, state => 'assigned',
             agent => 'alice', priority => 'normal',
             createdAt => $now - 90000, updatedAt => $now - 90000);
    $r->zadd('cs:state:assigned', $id, $id);
    $r->rpush('cs:queue:alice', $id);
}
# the sweep finds her once she is registered: every ticket is in place
$r->sadd('cs:agents', 'alice');
ok(CsTest::wait_until(sub { $r->zcard('cs:backlog') == 250 }, 10),
   "$name - 250 in the backlog");
my @at = sort { $a <=> $b } map { $r->hget("cs:ticket:$_", 'updatedAt') }
         1 .. 250;
my $spread = $at[-1] - $at[0];
SKIP: {
    skip 'timing under valgrind', 1 if CsTest::valgrind();
    ok($spread < 1000, "$name - within one tick (1 s): ${spread} ms");
}
is(scalar(main::rerouted_events()), 250, "$name - 250 events");
is($r->hget('cs:agent:alice', 'load'), 0, "$name - alice's load is 0");
is($r->llen('cs:queue:alice'), 0, "$name - her queue is empty");
is($r->zcard('cs:state:queued'), 250, "$name - all queued");
