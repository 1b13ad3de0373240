# Feedback: the customer rates a solved, closed or auto-resolved ticket;
# a second post within cs_feedback_window replaces the rating, and the
# figures follow; an unhappy rating (csat at or under cs_alert_csat) is an
# alert to live listeners (PUBLISH) and to the alerts stream, with no
# comment and no user id in it.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use JSON::PP;
use POSIX ();

redis_start();

our $Admin = $CsApi::Admin;

sub feedback { CsApi::api(POST => "tickets/$_[0]/feedback", $_[1], $_[2]) }

# a solved ticket of alice's: (id, customer token, alice's token)
sub solved_ticket {
    my ($alice) = @_;
    my $t = CsApi::intake('u-' . int(rand(1e9)), category => 'billing');
    CsApi::api(POST => "tickets/$t->{ticketId}/status", $alice, '{"state":"solved"}');
    return ($t->{ticketId}, $t->{token});
}

# the ratings' figures of the desk's hash (see t/037-metrics.t for all)
sub figures {
    my %m = CsTest::redis()->hgetall('cs:metrics');
    return { map { $_ => $m{$_} } grep { /^(csat|ces)_/ } keys %m };
}

check_stored_sections();

desk_blocks();

run_tests();

__DATA__

=== TEST 1: feedback opens once the ticket is solved: 201, stored, counted; before, 409 feedback_not_open and nothing written
--- stored
my $alice = new_agent('alice', 5);
my $t = intake('u1');
my $before = store();
my ($st, $b) = main::feedback($t->{ticketId}, $t->{token}, '{"csat":5}');
is($st, 409, "$name - assigned: 409");
is($b->{error}, 'feedback_not_open', "$name - feedback_not_open");
is(store(), $before, "$name - nothing written");
api(POST => "tickets/$t->{ticketId}/status", $alice, '{"state":"solved"}');
($st, $b) = main::feedback($t->{ticketId}, $t->{token}, '{"csat":5,"ces":6,"comment":"quick and kind"}');
is($st, 201, "$name - solved: 201");
is_deeply($b, { status => 'success', ticketId => $t->{ticketId}, csat => 5, ces => 6,
                comment => 'quick and kind', alert => JSON::PP::false }, "$name - the answer");
my $h = { $r->hgetall("cs:ticket:$t->{ticketId}") };
is($h->{csat}, 5, "$name - csat stored");
is($h->{ces}, 6, "$name - ces stored");
is($h->{feedbackComment}, 'quick and kind', "$name - the comment");
ok($h->{feedbackAt}, "$name - feedbackAt");
is_deeply(main::figures(), { csat_ratings => 1, csat_sum => 5, csat_satisfied => 1,
                             ces_ratings => 1, ces_sum => 6 }, "$name - the figures");
is($r->xlen('cs:alerts'), 0, "$name - a happy rating is no alert");
(undef, my $g) = api(GET => "tickets/$t->{ticketId}", $main::Admin);
invariants_hold($name, metrics => 1);



=== TEST 2: an unhappy rating reaches a live listener (SUBSCRIBE) and the alerts stream: type, ids, agent, category, score; no comment, no user id
--- stored
my $alice = new_agent('alice', 5);
my ($id, $tok) = main::solved_ticket($alice);
my $file = CsTest::redis_dir() . '/alert.txt';
unlink $file;
defined(my $pid = fork()) or die "fork: $!";
if ($pid == 0) {
    my $sub = Redis->new(server => "127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT}");
    $sub->subscribe('cs:alerts', sub {
        my ($message) = @_;
        open my $fh, '>', $file or POSIX::_exit(1);
        print $fh $message;
        close $fh;
        POSIX::_exit(0);
    });
    $sub->wait_for_messages(30) while 1;
}
ok(CsTest::wait_until(sub { ($r->pubsub_numsub('cs:alerts'))[1] }, 10), "$name - the listener subscribed");
my ($st, $b) = main::feedback($id, $tok, '{"csat":1,"comment":"my secret words"}');
is($st, 201, "$name - 201");
ok($b->{alert}, "$name - the answer says it alerted");
ok(CsTest::wait_until(sub { -s $file }, 10), "$name - the listener got the alert");
waitpid($pid, 0);
open my $fh, '<', $file or die;
my $alert = JSON::PP->new->decode(do { local $/; <$fh> });
is_deeply($alert, { type => 'csat', ticketId => $id, agent => 'alice', category => 'billing', csat => 1 },
          "$name - type, ticket, agent, category, score");
my @entries = $r->xrange('cs:alerts', '-', '+');
is(scalar @entries, 1, "$name - one entry in the alerts stream, for listeners that were away");
my %f = @{ $entries[0][1] };
is_deeply(JSON::PP->new->decode($f{alert}), $alert, "$name - the same alert");
my $raw = join ' ', map { @{ $_->[1] } } @entries;
unlike($raw, qr/secret words|u-\d+/, "$name - no comment and no user id in it");



=== TEST 3: a second post within the window replaces the whole rating and the figures follow; a changed rating alerts only when it becomes unhappy
--- stored
my $alice = new_agent('alice', 5);
my ($id, $tok) = main::solved_ticket($alice);
main::feedback($id, $tok, '{"csat":4,"ces":3}');
is_deeply(main::figures(), { csat_ratings => 1, csat_sum => 4, csat_satisfied => 1,
                             ces_ratings => 1, ces_sum => 3 }, "$name - first: happy");
my ($st, $b) = main::feedback($id, $tok, '{"csat":2}');
is($st, 200, "$name - a replacement is 200");
ok($b->{alert}, "$name - it became unhappy: an alert");
is_deeply(main::figures(), { csat_ratings => 1, csat_sum => 2, csat_satisfied => 0,
                             ces_ratings => 0, ces_sum => 0 }, "$name - the figures follow, the omitted ces is gone");
ok(!$r->hexists("cs:ticket:$id", 'ces'), "$name - ces removed");
($st, $b) = main::feedback($id, $tok, '{"csat":1}');
ok(!$b->{alert}, "$name - unhappy to unhappy: no second alert");
is($r->xlen('cs:alerts'), 1, "$name - one alert in all");
main::feedback($id, $tok, '{"csat":5}');
($st, $b) = main::feedback($id, $tok, '{"csat":2}');
ok($b->{alert}, "$name - happy again, then unhappy: an alert");
api(POST => "tickets/$id/status", $main::Admin, '{"state":"closed"}');
($st) = main::feedback($id, $tok, '{"csat":3}');
is($st, 200, "$name - a closed ticket's rating still changes within the window");
is_deeply(main::figures(), { csat_ratings => 1, csat_sum => 3, csat_satisfied => 0,
                             ces_ratings => 0, ces_sum => 0 }, "$name - one rating, as it stands");



=== TEST 4: after cs_feedback_window the rating is final: 409 feedback_closed, nothing written
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_feedback_window 500ms;
}
--- stored
my $alice = new_agent('alice', 5);
my ($id, $tok) = main::solved_ticket($alice);
main::feedback($id, $tok, '{"csat":3}');
my ($st, $b);
ok(CsTest::wait_until(sub {
    my $before = store();
    ($st, $b) = main::feedback($id, $tok, '{"csat":5}');
    return $st == 409 && store() eq $before;
}, 10), "$name - after the window: 409, nothing written");
is($b->{error}, 'feedback_closed', "$name - feedback_closed");



=== TEST 5: only the ticket's customer rates it; csat 1-5 is required, ces 1-7, and a comment at most cs_issue_max_length; nothing written on a refusal
--- stored
my $alice = new_agent('alice', 5);
my ($id, $tok) = main::solved_ticket($alice);
my ($id2, $tok2) = main::solved_ticket($alice);
my $before = store();
for my $c ([ $alice, '{"csat":5}', 403, 'an agent' ], [ $main::Admin, '{"csat":5}', 403, 'an admin' ],
           [ $tok2, '{"csat":5}', 401, 'another ticket\'s token' ], [ undef, '{"csat":5}', 401, 'no token' ],
           [ $tok, '{"csat":0}', 422, 'csat 0' ], [ $tok, '{"csat":6}', 422, 'csat 6' ],
           [ $tok, '{"ces":3}', 422, 'no csat' ], [ $tok, '{"csat":3,"ces":8}', 422, 'ces 8' ],
           [ $tok, '{"csat":3,"comment":"' . ('x' x 4097) . '"}', 422, 'a comment too long' ],
           [ $tok, '{"csat":3.5}', 422, 'csat 3.5' ]) {
    my ($token, $json, $code, $what) = @$c;
    my ($st) = main::feedback($id, $token, $json);
    is($st, $code, "$name - $what: $code");
}
is(store(), $before, "$name - nothing written");



=== TEST 6: the csat alert is written after the rating: an alerts stream that takes no entry more (its last id the last of the id space) is 500 before the first write, and nothing is written; a rating that raises no alert is taken
--- stored
my $alice = new_agent('alice', 5);
my ($id, $tok) = main::solved_ticket($alice);
$r->xadd('cs:alerts', '18446744073709551615-18446744073709551615', 'alert', 'not the desk\'s');
my $before = store();
my ($st, $b) = main::feedback($id, $tok, '{"csat":1,"comment":"slow"}');
is($st, 500, "$name - an unhappy rating on a full alerts stream: 500");
is($b->{error}, 'internal_error', "$name - internal_error");
is(store(), $before, "$name - nothing written (neither the rating, nor its event, nor the figures)");
($st, $b) = main::feedback($id, $tok, '{"csat":4}');
is($st, 201, "$name - a happy rating, no alert: 201");
ok(!$b->{alert}, "$name - it did not alert");
is($r->hget("cs:ticket:$id", 'csat'), 4, "$name - the rating stored");
$before = store();
($st) = main::feedback($id, $tok, '{"csat":2}');
is($st, 500, "$name - changed to unhappy: it would alert, 500");
is(store(), $before, "$name - nothing written");
$r->del('cs:alerts');
($st, $b) = main::feedback($id, $tok, '{"csat":2}');
is($st, 200, "$name - the stream mended: 200");
ok($b->{alert}, "$name - it alerted");
is($r->xlen('cs:alerts'), 1, "$name - the alert in the stream");
invariants_hold($name, metrics => 1);
--- error_log
cs: the key "cs:alerts" holds a value of the wrong type
