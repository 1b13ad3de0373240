# POST users/erase (admin): erase removes the user's tickets, messages,
# feedback, history and idempotency records from every key and queue;
# anonymize keeps the tickets, detached from the user, with the issue,
# email, every message body and feedback comments blank.  Either way the
# user's record and event id go, the present (queues, backlog, load) loses
# the erased tickets, the past keeps its counts, and user.erased is
# written without personal data.  A user of more than 100 tickets is
# erased in batches, marked `erasing` until the last.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use CsUser;
use JSON::PP;
use File::Temp ();

redis_start();

# a newer secret, for a desk in rotation (cs_secret new old): this file's
# secret is then the old one
my $dir = File::Temp::tempdir(CLEANUP => 1);
our $New = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;
open my $nf, '>', "$dir/new.secret" or die;
print $nf "$New\n";
close $nf;
$ENV{TEST_NGINX_CS_SECRET_NEW} = "$dir/new.secret";
open my $kf, '>', "$dir/enc.key" or die;
print $kf join('', map { sprintf '%02x', int rand 256 } 1 .. 32), "\n";
close $kf;
$ENV{TEST_NGINX_CS_ENC_KEY} = "$dir/enc.key";

# every event of this type, as hashes
sub events_of {
    my ($type) = @_;
    return map { +{ @{ $_->[1] } } }
           grep { my %f = @{ $_->[1] }; ($f{type} // '') eq $type }
           CsTest::redis()->xrange('cs:events', '-', '+');
}

sub metrics {
    my (undef, $b) = CsApi::admin(GET => 'metrics');
    return $b;
}

# the present recomputed from the tickets the store holds: how many in each
# state, and each agent's assigned tickets
sub recount {
    my $r = CsTest::redis();
    my (%state, %load);
    $state{$_} = 0 for qw(queued assigned pending solved closed auto_resolved);
    for my $key ($r->keys('cs:ticket:*')) {
        next unless $key =~ /^cs:ticket:\d+$/;
        my ($st, $agent) = $r->hmget($key, 'state', 'agent');
        $state{$st}++;
        $load{$agent}++ if $st eq 'assigned';
    }
    return (\%state, \%load);
}

# the past: every figure but the tickets by state and the agents' load
sub past {
    my ($m) = @_;
    my %p = %$m;
    delete $p{agents};
    $p{tickets} = { %{ $m->{tickets} } };
    delete $p{tickets}{byState};
    return \%p;
}

# the figures after an erasure: the past as before, the present as
# recomputed from the tickets left
sub figures_hold {
    my ($name, $before) = @_;
    my $after = metrics();
    is_deeply(past($after), past($before),
              "$name - GET metrics: the past keeps its counts (volumes, CSAT, loyalty, CES, auto-resolution, times, rules)");
    my ($state, $load) = recount();
    is_deeply($after->{tickets}{byState}, $state,
              "$name - GET metrics: the tickets by state are the tickets left");
    is_deeply({ map { $_->{name} => $_->{load} } @{ $after->{agents} } },
              { map { $_->{name} => $load->{ $_->{name} } // 0 } @{ $after->{agents} } },
              "$name - GET metrics: each agent's load is its assigned tickets left");
}

sub loads {
    my $a = agents_by_name();
    return { map { $_ => $a->{$_}{load} } keys %$a };
}

check_stored_sections();

desk_blocks([ 'cs_rule pw "(?i)password" "Reset it at https://example.com/reset";' ]);

run_tests();

__DATA__

=== TEST 1: erase: nothing of the user left in any key name or value (a full SCAN), the invariants hold, capacity frees and the backlog drains to the freed agents, the past keeps its counts and the present matches a recount of the tickets left (GET metrics), user.erased without personal data
--- stored
my $u = 'user:{7}*?';
my $d = the_user($u);
# and a ticket a rule answered
my (undef, $auto) = api(POST => 'service', undef,
    JSON::PP->new->encode({ userId => $u, issue => "$d->{mark}: I forgot my password", email => $d->{email} }));
is($auto->{state}, 'auto_resolved', "$name - a rule answered one");
my @other = @{ $d->{other} };
is(CsTest::ticket($other[1])->{state}, 'queued', "$name - another user's ticket waits behind the user's");
is_deeply(loads(), { alice => 2, bob => 2 }, "$name - both agents full");
my $ukey = ukey_of($u);
my @all = (@{ $d->{ids} }, $auto->{ticketId});
ok(scalar(personal_in(full_dump(), @{ $d->{needles} })) > 0, "$name - the scan sees the user before");
my $csat = { $r->hgetall('cs:metrics') };
my $figures = main::metrics();

my ($st, $b) = erase({ userId => $u, mode => 'erase' });
is($st, 200, "$name - 200");
is_deeply($b, { status => 'success', mode => 'erase', tickets => 6, erased => 6, remaining => 0,
                done => JSON::PP::true }, "$name - the answer");

my $dump = full_dump();
my @left = personal_in($dump, @{ $d->{needles} }, $ukey);
is_deeply(\@left, [], "$name - no key name or value holds the user id, email, issue text, a body, a comment or the user's key name");
my @eid = personal_in($dump, $d->{eventId});
is_deeply([ grep { !/^cs:events \(stream\)/ } @eid ], [], "$name - the event id is left in the stream alone, which nothing links to the user");
for my $id (@all) {
    is_deeply([ grep { /^cs:ticket:$id\b/ } split /\n/, $dump ], [], "$name - ticket $id: no key of it");
}
invariants_hold($name);
my ($xst, $x) = export({ userId => $u });
is_deeply([ $xst, $x->{tickets}, $x->{user} ], [ 200, [], undef ], "$name - an export finds nothing");

is(CsTest::ticket($other[1])->{state}, 'assigned', "$name - the backlog drained to a freed agent");
is(CsTest::ticket($other[0])->{state}, 'assigned', "$name - the other user's ticket stays");
is($r->zcard('cs:backlog'), 0, "$name - the backlog is empty");
my $l = loads();
is($l->{alice} + $l->{bob}, 2, "$name - the loads are the other user's two tickets: capacity freed");
is_deeply({ $r->hgetall('cs:metrics') }, $csat, "$name - the ratings keep their counts (the past)");
main::figures_hold($name, $figures);
is_deeply({ $r->hgetall('cs:rule:pw') }, { answered => 1, erased => 1 }, "$name - the rule's answers keep their count, one erased");

my @erased = events_of('user.erased');
is(scalar @erased, 1, "$name - one user.erased event");
is_deeply($erased[0], { type => 'user.erased', actor => 'admin:root', mode => 'erase', tickets => 6 },
          "$name - the admin, the mode, the count: nothing personal");
($st) = erase({ userId => $u, mode => 'erase' });
is($st, 404, "$name - again: 404, there is no such user");



=== TEST 2: anonymize: the tickets stay in their states, queues and loads, detached from the user; issue, email, every body and the comment blank; the customer's token no longer opens them; an export finds nothing
--- stored
my $u = 'anon@example.org';
my $d = the_user($u);
my $ukey = ukey_of($u);
my %before = map { $_ => CsTest::ticket($_) } @{ $d->{ids} };
my %nmsg = map { $_ => $r->llen("cs:ticket:$_:messages") } @{ $d->{ids} };
my $loads = loads();
my @backlog = $r->zrange('cs:backlog', 0, -1);
my $figures = main::metrics();

my ($st, $b) = erase({ userId => $u, mode => 'anonymize' });
is($st, 200, "$name - 200");
is_deeply($b, { status => 'success', mode => 'anonymize', tickets => 5, erased => 5, remaining => 0,
                done => JSON::PP::true }, "$name - the answer");

my $dump = full_dump();
is_deeply([ personal_in($dump, @{ $d->{needles} }, $ukey) ], [],
          "$name - no key name or value holds the user id, email, issue text, a body, a comment or the user's key name");
for my $id (@{ $d->{ids} }) {
    my $t = CsTest::ticket($id);
    my $was = $before{$id};
    is_deeply([ @$t{qw(state agent priority channel createdAt)} ], [ @$was{qw(state agent priority channel createdAt)} ],
              "$name - ticket $id keeps its state, agent and times");
    is($t->{issue}, '', "$name - ticket $id: the issue blank");
    ok(!exists $t->{$_}, "$name - ticket $id: no $_") for qw(userId userKey email nonce idemKey feedbackComment);
    my @m = map { JSON::PP->new->decode($_) } $r->lrange("cs:ticket:$id:messages", 0, -1);
    is(scalar @m, $nmsg{$id}, "$name - ticket $id keeps its messages");
    is_deeply([ grep { $_->{body} ne '' } @m ], [], "$name - ticket $id: every body blank");
}
is(CsTest::ticket($d->{ids}[0])->{csat}, 2, "$name - the rating's figures stay (not personal)");
is_deeply(loads(), $loads, "$name - the loads unchanged");
main::figures_hold($name, $figures);
is_deeply(main::metrics(), $figures, "$name - anonymized, every figure is as it was");
is_deeply([ $r->zrange('cs:backlog', 0, -1) ], \@backlog, "$name - the backlog unchanged");
my $id = $d->{ids}[1];
($st) = api(GET => "tickets/$id", $d->{customer}{$id});
is($st, 401, "$name - the customer's token no longer opens it");
($st, my $g) = api(GET => "tickets/$id", $CsApi::Admin);
is($st, 200, "$name - the admin still reads it");
is($g->{userId}, undef, "$name - no user in it");
invariants_hold($name);
my ($xst, $x) = export({ userId => $u });
is_deeply([ $xst, $x->{tickets}, $x->{user} ], [ 200, [], undef ], "$name - an export finds nothing");
my @erased = events_of('user.erased');
is_deeply(\@erased, [{ type => 'user.erased', actor => 'admin:root', mode => 'anonymize', tickets => 5 }],
          "$name - user.erased: the admin, the mode, the count");



=== TEST 3: more than 100 tickets: batches of 100 from the history's end; meanwhile the user shows `erasing`, an export shows whole tickets only, another mode is 409 and writes nothing; the next call finishes
--- stored
my $u = 'big';
my @ids;
for my $n (1 .. 150) {
    my (undef, $t) = api(POST => 'service', undef, qq({"userId":"big","issue":"big issue $n"}),
                         { 'Idempotency-Key' => "big-$n" });
    push @ids, $t->{ticketId};
}
intake('bystander');
my ($p1st, $p1) = export({ userId => $u });
is(scalar @{ $p1->{tickets} }, 100, "$name - an export's first page, before");

my ($st, $b) = erase({ userId => $u, mode => 'erase' });
is($st, 200, "$name - the first batch: 200");
is_deeply($b, { status => 'success', mode => 'erase', tickets => 100, erased => 100, remaining => 50,
                done => JSON::PP::false }, "$name - 100 erased, 50 remain, not done");
is($r->hget('cs:user:' . ukey_of($u), 'erasing'), 'erase', "$name - the record says erasing");
is(scalar(events_of('user.erased')), 0, "$name - no user.erased yet");
invariants_hold("$name (half way)");

my ($xst, $x) = export({ userId => $u });
is($x->{erasing}, 'erase', "$name - an export shows the erasure at work");
is_deeply([ map { $_->{ticket}{id} } @{ $x->{tickets} } ], [ @ids[0 .. 49] ], "$name - the 50 left, oldest first");
is_deeply([ grep { !$_->{ticket}{issue} || !@{ $_->{events} } || @{ $_->{idempotency} } != 1 } @{ $x->{tickets} } ], [],
          "$name - each whole: its fields, its event, its idempotency record");
my ($x2st, $x2) = export({ userId => $u, cursor => $p1->{cursor} });
is_deeply([ $x2st, $x2->{tickets}, $x2->{cursor} ], [ 200, [], undef ], "$name - the old cursor: past the end, nothing");

my $before = store();
($st, $b) = erase({ userId => $u, mode => 'anonymize' });
is($st, 409, "$name - another mode meanwhile: 409");
is($b->{error}, 'erase_in_progress', "$name - erase_in_progress");
is(store(), $before, "$name - nothing written");

($st, $b) = erase({ userId => $u, mode => 'erase' });
is_deeply($b, { status => 'success', mode => 'erase', tickets => 50, erased => 150, remaining => 0,
                done => JSON::PP::true }, "$name - the next call finishes");
is_deeply([ personal_in(full_dump(), 'big issue', 'big-', ukey_of($u)) ], [], "$name - nothing of the user left");
is_deeply([ map { $_->{tickets} } events_of('user.erased') ], [150], "$name - user.erased counts all 150");
is(scalar(grep { /^cs:ticket:\d+$/ } $r->keys('cs:ticket:*')), 1, "$name - the bystander's ticket alone");
invariants_hold($name);



=== TEST 4: refusals write nothing: no or a wrong token 401, an agent or a customer 403, no userId, no or a bad mode, an unknown field 422, an unknown user 404
--- stored
my $alice = new_agent('alice', 2);
my $t = intake('u1');
my $before = store();
for my $c ([ undef, '{"userId":"u1","mode":"erase"}', 401, 'no token' ],
           [ 'x.y.z', '{"userId":"u1","mode":"erase"}', 401, 'a wrong token' ],
           [ $alice, '{"userId":"u1","mode":"erase"}', 403, 'an agent' ],
           [ $t->{token}, '{"userId":"u1","mode":"erase"}', 403, 'a customer' ],
           [ $CsApi::Admin, '{"mode":"erase"}', 422, 'no userId' ],
           [ $CsApi::Admin, '{"userId":"u1"}', 422, 'no mode' ],
           [ $CsApi::Admin, '{"userId":"u1","mode":"delete"}', 422, 'a bad mode' ],
           [ $CsApi::Admin, '{"userId":"u1","mode":null}', 422, 'a null mode' ],
           [ $CsApi::Admin, '{"userId":"u1","mode":"erase","cursor":"1"}', 422, 'an unknown field' ],
           [ $CsApi::Admin, 'not json', 400, 'no JSON' ],
           [ $CsApi::Admin, '{"userId":"nobody","mode":"erase"}', 404, 'an unknown user' ],
           [ $CsApi::Admin, '{"userId":"*","mode":"erase"}', 404, 'a pattern for a user id' ],
           [ $CsApi::Admin, '{"userId":"u?","mode":"anonymize"}', 404, 'another pattern' ]) {
    my ($token, $json, $code, $what) = @$c;
    my ($st) = erase($json, $token);
    is($st, $code, "$name - $what: $code");
}
is(store(), $before, "$name - nothing written");



=== TEST 8: a foreign value where the user's intake Idempotency-Key is kept: 500, nothing written, and the error log names the key's kind, never the client's key
--- stored
my (undef, $t) = api(POST => 'service', undef, '{"userId":"u8","issue":"eight"}',
                     { 'Idempotency-Key' => 'client-key-8f3e' });
ok($t->{ticketId}, "$name - a ticket under an Idempotency-Key");
$r->del('cs:idem:client-key-8f3e');
$r->sadd('cs:idem:client-key-8f3e', 'foreign');
my $before = store();
my ($st, $b) = erase({ userId => 'u8', mode => 'erase' });
is($st, 500, "$name - 500");
is($b->{error}, 'internal_error', "$name - internal_error");
is(store(), $before, "$name - nothing written");
--- no_error_log eval
# nginx's own debug lines print the request's headers; the module's start
# with "cs:"
qr/\] \d+#\d+: (?:\*\d+ )?cs: .*client-key-8f3e/
--- error_log
"cs:idem:*" holds a value of the wrong type



=== TEST 5: hostile ids (`:`, `{`, `*`, `?`, one that looks like a key, a long one): erasing one touches no other user's keys
--- stored
my @users = ('a', '*', 'a*', 'cs:ticket:1', '{a}', 'a?b', 'x' x 128);
my %ids;
for my $u (@users) {
    my $t = intake($u, email => 'e' . length($u) . '@example.com');
    $ids{$u} = $t->{ticketId};
}
for my $victim ('*', 'cs:ticket:1', 'x' x 128) {
    my ($v, $uk) = ($ids{$victim}, ukey_of($victim));
    # the store but the victim's keys, its id in the indexes, and the stream
    my $dump = sub {
        my @out;
        for my $l (split /\n/, full_dump()) {
            next if $l =~ /^cs:ticket:$v[: ]/ || $l =~ /^cs:user:\Q$uk\E[: ]/
                    || $l =~ /^cs:events /;
            if ($l =~ /^(cs:(?:state:\w+|backlog) \(zset\)): (.*)$/) {
                my ($k, @p) = ($1, split /\x1f/, $2, -1);
                my @keep;
                while (my ($m, $sc) = splice @p, 0, 2) {
                    push @keep, $m, $sc unless $m eq $v;
                }
                next unless @keep;
                $l = "$k: " . join "\x1f", @keep;
            }
            push @out, $l;
        }
        return join "\n", @out;
    };
    my $nevents = $r->xlen('cs:events');
    my $before = $dump->();
    my ($st, $b) = erase({ userId => $victim, mode => 'erase' });
    is($st, 200, "$name - erase " . substr($victim, 0, 12) . ": 200");
    is($b->{tickets}, 1, "$name - its one ticket");
    is($dump->(), $before, "$name - every other key as it was, the indexes but its id");
    my @new = $r->xrange('cs:events', '-', '+');
    is_deeply([ map { { @{ $_->[1] } }->{type} } @new[ $nevents .. $#new ] ], ['user.erased'],
              "$name - one event more: user.erased");
    ok(!$r->exists("cs:ticket:$ids{$victim}"), "$name - its ticket gone");
    delete $ids{$victim};
    @users = grep { $_ ne $victim } @users;
}
is(scalar(grep { /^cs:ticket:\d+$/ } $r->keys('cs:ticket:*')), 4, "$name - the four others' tickets stay");
invariants_hold($name);



=== TEST 6: cs_secret new old: a user whose keys still have the old name is found, exported and erased under both names
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET_NEW $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
--- stored
my $u = 'rotating';
my $t1 = intake($u);
my $new = CsTest::user_key($u, $main::New);
my $old = ukey_of($u);
# as a host still on the old secret left it: the keys under the old name
$r->rename("cs:user:$new", "cs:user:$old");
$r->rename("cs:user:$new:tickets", "cs:user:$old:tickets");
$r->hset("cs:ticket:$t1->{ticketId}", 'userKey', $old);
my ($st, $b) = export({ userId => $u });
is_deeply([ map { $_->{ticket}{id} } @{ $b->{tickets} } ], [ $t1->{ticketId} ], "$name - export finds the ticket under the old name");
ok($b->{user}{eventId}, "$name - and the record");
($st, $b) = erase({ userId => $u, mode => 'erase' });
is($st, 200, "$name - erase: 200");
is($b->{tickets}, 1, "$name - its ticket");
is_deeply([ grep { /^cs:user:/ || /^cs:ticket:\d+/ } $r->keys('*') ], [], "$name - no user key under either name, no ticket");
invariants_hold($name);



=== TEST 7: with cs_encrypt_key: an export shows the words opened; anonymize leaves no sealed twin, no seal, every body blank; erase leaves no key of the tickets
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_ENC_KEY;
}
--- stored
my $d = the_user('sealed-user');
my $t1 = CsTest::ticket($d->{ids}[0]);
ok($t1->{issue_enc} && !exists $t1->{issue}, "$name - the issue is stored sealed");
my ($st, $x) = export({ userId => 'sealed-user' });
is($st, 200, "$name - export: 200");
my $first = $x->{tickets}[0];
is($first->{ticket}{issue}, "$d->{mark} issue 1: my card", "$name - the issue opened");
is($first->{ticket}{email}, $d->{email}, "$name - the email opened");
is($first->{ticket}{feedbackComment}, "$d->{mark} comment", "$name - the comment opened");
ok(!grep({ /_enc$|^seal$|^nonce$/ } keys %{ $first->{ticket} }), "$name - no sealed field, seal or nonce shown");
is($first->{messages}[0]{body}, "$d->{mark} body from the customer on $d->{ids}[0]", "$name - a body opened");
my @sealed = grep { /_enc|seal/ } split /\n/, full_dump();
ok(@sealed > 0, "$name - the store holds sealed values");
($st) = erase({ userId => 'sealed-user', mode => 'anonymize' });
is($st, 200, "$name - anonymize: 200");
for my $id (@{ $d->{ids} }) {
    my $t = CsTest::ticket($id);
    is_deeply([ grep { /_enc$|^seal$/ } keys %$t ], [], "$name - ticket $id: no sealed field, no seal");
    is($t->{issue}, '', "$name - ticket $id: the issue blank");
    my @m = map { JSON::PP->new->decode($_) } $r->lrange("cs:ticket:$id:messages", 0, -1);
    is_deeply([ grep { exists $_->{body_enc} || $_->{body} ne '' } @m ], [], "$name - ticket $id: every body blank, none sealed");
}
my ($gst, $g) = api(GET => "tickets/$d->{ids}[0]", $CsApi::Admin);
is($gst, 200, "$name - an anonymized ticket still reads");
is($g->{issue}, '', "$name - its issue blank");
is_deeply([ personal_in(full_dump(), @{ $d->{needles} }) ], [], "$name - nothing of the user in the clear");
invariants_hold($name);
# and a second user, erased
my $e = intake('sealed-two', email => 'two@example.com');
($st) = erase({ userId => 'sealed-two', mode => 'erase' });
is($st, 200, "$name - erase: 200");
is_deeply([ grep { /^cs:ticket:$e->{ticketId}\b/ } split /\n/, full_dump() ], [], "$name - no key of its ticket");



=== TEST 9: the last batch appends user.erased after its writes: a stream that takes no entry more (its last id the last of the id space), or a foreign value at the stream, is 500 before the first write, and nothing is written
--- stored
new_agent('alice', 2);
my $t = intake('u9');
$r->xadd('cs:events', '18446744073709551615-18446744073709551615',
         'type', 'not the desk\'s');
my $before = store();
my ($st, $b) = erase({ userId => 'u9', mode => 'erase' });
is($st, 500, "$name - a full stream: 500");
is($b->{error}, 'internal_error', "$name - internal_error");
is(store(), $before, "$name - nothing written: the user and its ticket stay");
$r->del('cs:events');
$r->set('cs:events', 'not mine');
$before = store();
($st) = erase({ userId => 'u9', mode => 'anonymize' });
is($st, 500, "$name - a foreign value at the stream: 500");
is(store(), $before, "$name - nothing written");
$r->del('cs:events');
($st, $b) = erase({ userId => 'u9', mode => 'erase' });
is($st, 200, "$name - the stream mended: 200");
is($r->exists("cs:ticket:$t->{ticketId}"), 0, "$name - the ticket erased");
is(scalar events_of('user.erased'), 1, "$name - user.erased");
--- error_log
cs: the key "cs:events" holds a value of the wrong type
