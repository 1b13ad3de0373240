# Privacy of the user id in Redis: the user's keys are named by nginx's
# HMAC of the userId (purpose "key"), never by the id; the event stream
# names a customer by the random event id of the user's record; the ticket
# keeps userId and the userKey that finds the user's keys.  Under
# cs_secret new old, a history named with the old secret is found and moved
# to the new name.  Without cs_secret the names are made under a public key.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use FindBin;
use HTTP::Tiny;
use JSON::PP;

redis_start();

# two secrets, as an operator makes them, for a rotation: the files'
# bytes without the final newline are the secrets
my $dir = tempdir(CLEANUP => 1);
our %Secret;
for my $which (qw(old new)) {
    $Secret{$which} = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;
    open my $f, '>', "$dir/$which.secret" or die;
    print $f "$Secret{$which}\n";
    close $f;
}
our $Admin = 'admin-key-' . int(rand(1e9));
open my $k, '>', "$dir/admin.keys" or die;
print $k 'root ' . sha256_hex($Admin) . "\n";
close $k;
$ENV{TEST_NGINX_OLD_SECRET} = "$dir/old.secret";
$ENV{TEST_NGINX_NEW_SECRET} = "$dir/new.secret";
$ENV{TEST_NGINX_CS_ADMIN_KEYS} = "$dir/admin.keys";

# user ids that no key or event could hold by chance
our @Users = map { "$_-" . int(rand(1e9)) . '@example.com' } qw(ann bob carol);
our ($Ann, $Bob, $Carol) = @Users;

sub api {
    my ($method, $path, $token, $body) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    my $res = HTTP::Tiny->new(timeout => CsTest::valgrind() ? 30 : 10)
        ->request($method, "http://127.0.0.1:$port/api/$path",
                  { headers => { ($token ? (Authorization => "Bearer $token")
                                         : ()),
                                 'Content-Type' => 'application/json' },
                    defined $body ? (content => $body) : () });
    my $json = eval { JSON::PP->new->utf8->decode($res->{content}) };
    return ($res->{status}, $json // $res->{content});
}

# one ticket; a block's init may run before nginx listens (the real
# Test::Nginx under valgrind): a refused connection (599) is tried again
sub intake {
    my ($user, $path) = @_;
    my ($st, $b);
    CsTest::wait_until(sub {
        ($st, $b) = CsTest::post_ticket(
            qq({"userId":"$user","issue":"help $user"}),
            path => $path // '/api/service');
        return $st != 599;
    }, 30);
    Test::More::is($st, 201, "intake for a user: 201") or Test::More::diag($b);
    return eval { JSON::PP->new->decode($b) } // {};
}

# every key name, by SCAN (the module never scans)
sub all_keys {
    my ($r) = @_;
    my ($cursor, @keys) = (0);
    do {
        my ($next, $batch) = $r->scan($cursor, 'COUNT', 1000);
        push @keys, @$batch;
        $cursor = $next;
    } while ($cursor);
    return sort @keys;
}

# every field and value of the stream's entries
sub event_words {
    my ($r) = @_;
    return map { @{ $_->[1] } } $r->xrange('cs:events', '-', '+');
}

# no key name and no event holds a raw user id
sub no_user_ids {
    my ($name, $r) = @_;
    for my $user (@Users) {
        my @keys = grep { index($_, $user) >= 0 } all_keys($r);
        is("@keys", '', "$name - no key name holds a user id");
        my @words = grep { index($_, $user) >= 0 } event_words($r);
        is("@words", '', "$name - no event holds a user id");
    }
}

# ticketId -> the fields of its ticket.created entry
sub created {
    my ($r) = @_;
    my %c;
    for my $e ($r->xrange('cs:events', '-', '+')) {
        my %f = @{ $e->[1] };
        $c{ $f{ticketId} } = \%f if $f{type} eq 'ticket.created';
    }
    return \%c;
}

sub event_id {
    my ($r, $user, $secret) = @_;
    return $r->hget('cs:user:' . user_key($user, $secret), 'eventId');
}

# --- stored: Perl run after each response (see t/lib/CsCheck.pm)
check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_NEW_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
CONF
    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;
    $block->set_value('request', 'GET /api/nothing')
        unless defined $block->request;
    $block->set_value('error_code', 404) unless defined $block->error_code;
    $block->set_value('no_error_log', '[error]')
        unless defined $block->error_log || defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: the user's keys are named by the HMAC of the userId under cs_secret: no key name and no event holds a user id; one user's tickets share an event id, two users' differ
--- init
CsTest::flush_redis();
main::intake($main::Ann);
main::intake($main::Bob);
main::intake($main::Ann);
--- stored
my $s = $main::Secret{new};
is_deeply([ user_tickets($main::Ann, undef, $s) ], [1, 3],
          "$name - ann's history, by the HMAC name");
is_deeply([ user_tickets($main::Bob, undef, $s) ], [2],
          "$name - bob's history, by the HMAC name");
my $ukey = user_key($main::Ann, $s);
like($ukey, qr/^[A-Za-z0-9_-]{22}$/, "$name - 128 bits in base64url");
is_deeply([ grep { /^cs:user:/ } main::all_keys($r) ],
          [ sort map { my $u = user_key($_, $s);
                       ("cs:user:$u", "cs:user:$u:tickets") }
                $main::Ann, $main::Bob ],
          "$name - per user: a record and a history, both by HMAC");
is($r->hget('cs:ticket:1', 'userId'), $main::Ann,
   "$name - the ticket keeps its userId");
is($r->hget('cs:ticket:1', 'userKey'), $ukey, "$name - and the userKey");
is($r->hget('cs:ticket:3', 'userKey'), $ukey, "$name - on each ticket");
main::no_user_ids($name, $r);
my $c = main::created($r);
my $ann = main::event_id($r, $main::Ann, $s);
my $bob = main::event_id($r, $main::Bob, $s);
like($ann, qr/^[A-Za-z0-9_-]{22}$/, "$name - a random event id");
is($c->{1}{user}, $ann, "$name - ticket 1 names ann by her event id");
is($c->{3}{user}, $ann, "$name - ticket 3 too: one user, one event id");
is($c->{2}{user}, $bob, "$name - ticket 2 names bob by his");
isnt($ann, $bob, "$name - two users, two event ids");
ok(!exists $c->{1}{userId}, "$name - ticket.created has no userId");
is_deeply([ sort keys %{ $c->{1} } ],
          [ sort qw(type ticketId user agent state priority channel) ],
          "$name - ticket.created's fields");
is_deeply({ $r->hgetall('cs:user:' . $ukey) }, { eventId => $ann },
          "$name - the record holds the event id only");



=== TEST 2: the event id is kept: a user known before keeps it, and an idempotent replay writes nothing new
--- init
CsTest::flush_redis();
CsTest::redis()->hset('cs:user:' . CsTest::user_key($main::Ann,
                                                    $main::Secret{new}),
                      'eventId', 'given-before');
main::intake($main::Ann);
--- stored
is(main::created($r)->{1}{user}, 'given-before', "$name - the first id is kept");
is(main::event_id($r, $main::Ann, $main::Secret{new}), 'given-before',
   "$name - the record is as it was");
my ($st, $b) = CsTest::post_ticket(qq({"userId":"$main::Ann","issue":"x"}),
                                   'Idempotency-Key' => 'once');
my ($st2, $b2) = CsTest::post_ticket(qq({"userId":"$main::Ann","issue":"x"}),
                                     'Idempotency-Key' => 'once');
is("$st $st2", '201 201', "$name - a ticket and its replay");
is($b2, $b, "$name - the same answer");
is($r->xlen('cs:events'), 2, "$name - one event for both");
is_deeply([ user_tickets($main::Ann, undef, $main::Secret{new}) ], [1, 2],
          "$name - the history holds the ticket once");



=== TEST 3: GET tickets/{id}: an admin and the ticket's agent get the user's other tickets through the ticket's userKey
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_NEW_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
--- init
CsTest::flush_redis();
--- stored
my ($st, $b) = main::api(PUT => 'agents/ann', $main::Admin,
                         '{"capacity":10}');
is($st, 201, "$name - an agent");
my $token = $b->{token};
($st) = main::api(PUT => 'agents/ann/presence', $token,
                  '{"status":"online"}');
is($st, 200, "$name - online");
main::intake($main::Carol);
main::intake($main::Bob);
main::intake($main::Carol);
main::intake($main::Carol);
my $want = [ { ticketId => 3, category => undef, state => 'assigned',
               csat => undef },
             { ticketId => 1, category => undef, state => 'assigned',
               csat => undef } ];
for my $who ([admin => $main::Admin], [agent => $token]) {
    ($st, $b) = main::api(GET => 'tickets/4', $who->[1]);
    is($st, 200, "$name - $who->[0]: 200");
    is($b->{userId}, $main::Carol, "$name - $who->[0]: the userId");
    is_deeply($b->{customer}, $want,
              "$name - $who->[0]: carol's other tickets, latest first");
}
($st, $b) = main::api(GET => 'tickets/2', $main::Admin);
is_deeply($b->{customer}, [], "$name - bob has no other ticket");
main::no_user_ids($name, $r);



=== TEST 4: rotation: under "cs_secret new old" a history named with the old secret is found, moved to the new name, and keeps its event id
--- config
location = /old/service {
    cs_service;
    cs_secret $TEST_NGINX_OLD_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_NEW_SECRET $TEST_NGINX_OLD_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- init
CsTest::flush_redis();
# before the rotation: a desk whose only secret is the old one
main::intake($main::Carol, '/old/service');
main::intake($main::Carol, '/old/service');
Test::More::is_deeply([ CsTest::user_tickets($main::Carol, undef,
                                             $main::Secret{old}) ],
                      [1, 2], "the history under the old secret's name");
$main::CarolEventId = main::event_id(CsTest::redis(), $main::Carol,
                                   $main::Secret{old});
Test::More::like($main::CarolEventId, qr/^[A-Za-z0-9_-]{22}$/,
                 "her event id");
# after it
main::intake($main::Carol);
main::intake($main::Bob);
--- stored
my ($old, $new) = map { user_key($main::Carol, $main::Secret{$_}) }
                  qw(old new);
is_deeply([ user_tickets($main::Carol, undef, $main::Secret{new}) ],
          [1, 2, 3], "$name - the whole history under the new name");
is_deeply([ grep { /\Q$old\E/ } main::all_keys($r) ], [],
          "$name - nothing left under the old name");
is(main::event_id($r, $main::Carol, $main::Secret{new}), $main::CarolEventId,
   "$name - the record moved with its event id");
my $c = main::created($r);
is_deeply([ map { $c->{$_}{user} } 1 .. 3 ], [ ($main::CarolEventId) x 3 ],
          "$name - before and after the rotation, one event id");
is($r->hget('cs:ticket:3', 'userKey'), $new,
   "$name - the new ticket names the new key");
is_deeply([ user_tickets($main::Bob, undef, $main::Secret{new}) ], [4],
          "$name - a user new to the desk is named with the new secret");
is_deeply([ map { $r->hget("cs:ticket:$_", 'userKey') } 1 .. 3 ],
          [ ($new) x 3 ], "$name - the moved tickets name the new key");
my ($st, $b) = main::api(GET => 'tickets/3', $main::Admin);
is_deeply([ map { $_->{ticketId} } @{ $b->{customer} } ], [2, 1],
          "$name - the customer list finds the moved history");
($st, $b) = main::api(GET => 'tickets/1', $main::Admin);
is_deeply([ map { $_->{ticketId} } @{ $b->{customer} } ], [3, 2],
          "$name - from a ticket taken before the rotation too");
main::no_user_ids($name, $r);



=== TEST 5: rotation: when both names hold a history (a host still on the old secret wrote it), they become one, in id order, and the new name's record stands
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_NEW_SECRET $TEST_NGINX_OLD_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- init
CsTest::flush_redis();
my $r = CsTest::redis();
my ($old, $new) = map { CsTest::user_key($main::Carol, $main::Secret{$_}) }
                  qw(old new);
$r->rpush("cs:user:$old:tickets", 1, 4);
$r->hset("cs:user:$old", 'eventId', 'the-old-one');
$r->rpush("cs:user:$new:tickets", 2, 3);
$r->hset("cs:user:$new", 'eventId', 'the-new-one');
$r->hset('cs:ticket:1', 'id', 1, 'userId', $main::Carol, 'userKey', $old,
         'state', 'queued');
$r->set('cs:ticket:seq', 10);
main::intake($main::Carol);
--- stored
my $old = user_key($main::Carol, $main::Secret{old});
is_deeply([ user_tickets($main::Carol, undef, $main::Secret{new}) ],
          [1, 2, 3, 4, 11], "$name - one history, in id order");
is_deeply([ grep { /\Q$old\E/ } main::all_keys($r) ], [],
          "$name - nothing left under the old name");
is(main::created($r)->{11}{user}, 'the-new-one',
   "$name - the new name's event id");
is($r->hget('cs:ticket:1', 'userKey'),
   user_key($main::Carol, $main::Secret{new}),
   "$name - a moved ticket names the new key");
is($r->exists('cs:ticket:4'), 0, "$name - a ticket gone is not written");



=== TEST 6: without cs_secret (a v1 cs_service location) the names are made under the module's public key: no key name holds a user id
--- config
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- init
CsTest::flush_redis();
main::intake($main::Ann);
main::intake($main::Ann);
--- request
GET /api/service
--- error_code: 405
--- stored
is_deeply([ user_tickets($main::Ann, undef,
                         $CsTest::PublicUserKey) ], [1, 2],
          "$name - the history under the public key's name");
is($r->hget('cs:ticket:1', 'userKey'),
   user_key($main::Ann, $CsTest::PublicUserKey), "$name - the ticket's key");
main::no_user_ids($name, $r);
my $c = main::created($r);
is($c->{1}{user}, $c->{2}{user}, "$name - one event id");



=== TEST 7: a cs_service location takes cs_secret too, and names the keys with it
--- config
location = /api/service {
    cs_service;
    cs_secret $TEST_NGINX_NEW_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- init
CsTest::flush_redis();
main::intake($main::Bob);
--- request
GET /api/service
--- error_code: 405
--- stored
is_deeply([ user_tickets($main::Bob, undef, $main::Secret{new}) ], [1],
          "$name - the history under the secret's name");
is_deeply([ user_tickets($main::Bob, undef, $CsTest::PublicUserKey) ], [],
          "$name - not under the public key's");
main::no_user_ids($name, $r);



=== TEST 8: a user's record of the wrong type is named without the user part in the log, and nothing is written
--- init
CsTest::flush_redis();
CsTest::redis()->set('cs:user:' . CsTest::user_key($main::Ann,
                                                   $main::Secret{new}),
                     'not a hash');
--- request eval
"POST /api/service\n{\"userId\":\"$main::Ann\",\"issue\":\"odd\"}"
--- more_headers
Content-Type: application/json
--- error_code: 500
--- response_body chop
{"status":"error","error":"internal_error","message":"internal error"}
--- stored
is_deeply([ main::all_keys($r) ],
          [ 'cs:user:' . user_key($main::Ann, $main::Secret{new}) ],
          "$name - nothing was written");
--- error_log
cs: the key "cs:user:*" holds a value of the wrong type
--- no_error_log eval
[ CsTest::user_key($main::Ann, $main::Secret{new}), $main::Ann, '[alert]' ]



=== TEST 9: under "cs_secret new old" the old name's keys are proven too: a foreign value there writes nothing
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_NEW_SECRET $TEST_NGINX_OLD_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- init
CsTest::flush_redis();
CsTest::redis()->set('cs:user:' . CsTest::user_key($main::Ann,
                                                   $main::Secret{old})
                     . ':tickets', 'not a list');
--- request eval
"POST /api/service\n{\"userId\":\"$main::Ann\",\"issue\":\"odd\"}"
--- more_headers
Content-Type: application/json
--- error_code: 500
--- stored
is_deeply([ main::all_keys($r) ],
          [ 'cs:user:' . user_key($main::Ann, $main::Secret{old})
            . ':tickets' ],
          "$name - nothing was written");
--- error_log
cs: the key "cs:user:*:tickets" holds a value of the wrong type
--- no_error_log eval
[ CsTest::user_key($main::Ann, $main::Secret{old}), $main::Ann, '[alert]' ]



=== TEST 10: the prelude's event() names a customer by the event id of the ticket's user, and a ticket without a user record by "customer" alone
--- init
CsTest::flush_redis();
main::intake($main::Ann);
--- stored
CsTest::load_desk($r, probe => [ 'common_prelude',
    "return event('test.event', 'ticketId', who)" ]);
my $nonce = $r->hget('cs:ticket:1', 'nonce');
$r->fcall('cs_test_probe', 1, 'cs:', 'customer', 1, $nonce, '', '');
$r->hset('cs:ticket:2', 'id', 2, 'state', 'queued');
$r->fcall('cs_test_probe', 1, 'cs:', 'customer', 2, '', '', '');
my @actors = map { my %f = @{ $_->[1] };
                   $f{type} eq 'test.event' ? $f{actor} : () }
             $r->xrange('cs:events', '-', '+');
is_deeply(\@actors,
          [ 'customer:' . main::event_id($r, $main::Ann, $main::Secret{new}),
            'customer' ],
          "$name - the actors");
main::no_user_ids($name, $r);
