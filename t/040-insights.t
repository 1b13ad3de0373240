# Recurring problems (cs_recurring N window): per category, a surge of
# created tickets and unhappy ratings within a window that slides by the
# minute.  Reaching N is one alert (PUBLISH <prefix>alerts and the alerts
# stream), re-armed when the count falls below N; GET insights lists what
# stands, with the rule that answers the category and what to do.
#
# The window here is an hour; age is simulated by moving the minutes
# Redis holds back in time, then the desk is worked through nginx.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use JSON::PP;
use POSIX ();
use Redis;
use Time::HiRes ();

redis_start();

our $Admin = $CsApi::Admin;

sub redis_now_ms { my ($s, $us) = CsTest::redis()->time; return $s * 1000 + int($us / 1000) }

# a ticket of this category (undef: none): its id and its token
sub new_ticket_token {
    my ($category) = @_;
    my $t = CsApi::intake('u-' . int(rand(1e9)), defined $category ? (category => $category) : ());
    die "intake failed\n" unless $t->{ticketId};
    return ($t->{ticketId}, $t->{token});
}

sub new_ticket { return (new_ticket_token(@_))[0] }

# a solved ticket of this category, assigned to the agent: (id, token)
sub solved_ticket {
    my ($agent, $category) = @_;
    my ($id, $tok) = new_ticket_token($category);
    my ($st) = CsApi::api(POST => "tickets/$id/status", $agent, '{"state":"solved"}');
    die "solve: $st\n" unless $st == 200;
    return ($id, $tok);
}

sub rate { return CsApi::api(POST => "tickets/$_[0]/feedback", $_[1], $_[2]) }

sub insights {
    my ($st, $b) = CsApi::admin(GET => 'insights');
    die "GET insights: $st\n" unless $st == 200;
    return $b->{insights};
}

# A live listener: a child that SUBSCRIBEs to <prefix>alerts with a real
# Redis client and writes each message to a file, one a line.
sub listen_alerts {
    my $r = CsTest::redis();
    CsTest::wait_until(sub { !($r->pubsub_numsub('cs:alerts'))[1] }, 10)
        or die "an earlier listener is still there\n";
    my $file = CsTest::redis_dir() . '/alerts-' . int(rand(1e9)) . '.txt';
    defined(my $pid = fork()) or die "fork: $!";
    if ($pid == 0) {
        my $sub = Redis->new(server => "127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT}");
        open my $fh, '>>', $file or POSIX::_exit(1);
        $fh->autoflush(1);
        $sub->subscribe('cs:alerts', sub { print $fh "$_[0]\n" });
        my $until = time + 120;
        $sub->wait_for_messages(1) while time < $until;
        POSIX::_exit(0);
    }
    CsTest::wait_until(sub { ($r->pubsub_numsub('cs:alerts'))[1] }, 10)
        or die "the listener did not subscribe\n";
    return { pid => $pid, file => $file, marks => 0 };
}

# the recurring alerts the listener has heard so far: a marker published
# after them and waited for, so that every alert sent before has arrived
sub heard {
    my ($l) = @_;
    my $mark = 'mark-' . ++$l->{marks};
    CsTest::redis()->publish('cs:alerts', $mark);
    my @lines;
    CsTest::wait_until(sub {
        open my $fh, '<', $l->{file} or return 0;
        @lines = <$fh>;
        chomp @lines;
        return grep { $_ eq $mark } @lines;
    }, 10) or die "the listener did not hear $mark\n";
    return [ grep { $_->{type} eq 'recurring' } map { JSON::PP->new->decode($_) } grep { /^\{/ } @lines ];
}

sub stop_listening {
    my ($l) = @_;
    kill 'TERM', $l->{pid};
    waitpid($l->{pid}, 0);
}

# the recurring alerts of the stream, oldest first
sub stream_alerts {
    my @out;
    for my $e (CsTest::redis()->xrange('cs:alerts', '-', '+')) {
        my %f = @{ $e->[1] };
        my $a = JSON::PP->new->decode($f{alert});
        push @out, $a if $a->{type} eq 'recurring';
    }
    return \@out;
}

# moves the minutes of a surge back in time, as if they were that old
sub age_surge {
    my ($label, $minutes) = @_;
    my $r = CsTest::redis();
    my $k = "cs:recur:surge:$label";
    my %h = $r->hgetall($k);
    my @list = $r->lrange("$k:minutes", 0, -1);
    $r->del($k, "$k:minutes");
    for my $m (@list) {
        $r->hset($k, $m - $minutes, $h{$m});
        $r->hset($k, 'f' . ($m - $minutes), $h{"f$m"});
    }
    $r->hset($k, 'n', $h{n}, 'last', $h{last}, 'head', $h{head} - $minutes,
             'alerted', $h{alerted});
    $r->rpush("$k:minutes", map { $_ - $minutes } @list);
}

check_stored_sections();

desk_blocks([ 'cs_recurring 3 1h;',
              'cs_rule refund "(?i)refund" "Refunds take five days." billing;' ]);

run_tests();

__DATA__

=== TEST 1: a surge: the ticket that brings a category to N within the window is one alert, heard live (SUBSCRIBE) and in the stream; later tickets are none
--- stored
my $l = main::listen_alerts();
my @ids = map { main::new_ticket('billing') } 1 .. 2;
main::new_ticket('shipping') for 1 .. 2;
is_deeply(main::heard($l), [], "$name - below N: no alert");
push @ids, main::new_ticket('billing');
my $want = { type => 'recurring', kind => 'surge', category => 'billing', count => 3,
             threshold => 3, windowSeconds => 3600, ticketId => $ids[2] };
is_deeply(main::heard($l), [ $want ], "$name - the third billing ticket: one alert, heard live");
is_deeply(main::stream_alerts(), [ $want ], "$name - and in the stream, for listeners that were away");
push @ids, map { main::new_ticket('billing') } 1 .. 3;
is_deeply(main::heard($l), [ $want ], "$name - later tickets: no more alerts");
is_deeply(main::stream_alerts(), [ $want ], "$name - none in the stream either");
is($r->hget('cs:recur:surge:billing', 'n'), 6, "$name - the count goes on");
is($r->hget('cs:recur:surge:billing', 'alerted'), 1, "$name - remembered as alerted");
my $raw = join ' ', map { @{ $_->[1] } } $r->xrange('cs:alerts', '-', '+');
unlike($raw, qr/u-\d+|help/, "$name - no user id and no text in the alerts");
main::stop_listening($l);



=== TEST 2: GET insights: each surge at or over N, its count, window, first and last ticket, the rule that answers its category, the action and a sentence with the numbers
--- stored
my @billing = map { main::new_ticket('billing') } 1 .. 4;
my @none = map { main::new_ticket() } 1 .. 3;
main::new_ticket('shipping') for 1 .. 2;
my $got = main::insights();
is(scalar @$got, 2, "$name - two problems (shipping's 2 are under N)");
my ($b, $n) = @$got;
is_deeply({ map { $_ => $b->{$_} } grep { $_ ne 'suggestion' } keys %$b },
          { kind => 'surge', category => 'billing', count => 4, threshold => 3, windowSeconds => 3600,
            firstTicketId => $billing[0], lastTicketId => $billing[-1], rule => 'refund',
            action => 'investigate_surge' }, "$name - billing first (the most), with its rule");
like($b->{suggestion}, qr/surge: 4 new tickets in category "billing" within 1h \(threshold 3\), tickets $billing[0] to $billing[-1]; rule "refund" answers/,
     "$name - the sentence names the category, the numbers and the rule");
is_deeply([ @$n{qw(kind category count firstTicketId lastTicketId rule action)} ],
          [ 'surge', 'none', 3, $none[0], $none[-1], undef, 'investigate_surge' ],
          "$name - tickets without a category: none, no rule");
like($n->{suggestion}, qr/no rule answers/, "$name - and says so");
my ($st) = api(GET => 'insights', new_agent('alice', 5));
is($st, 403, "$name - an agent: 403");



=== TEST 3: re-armed: once the minutes leave the window the count falls below N, and the next crossing is a new alert
--- stored
my @ids = map { main::new_ticket('billing') } 1 .. 3;
is(scalar @{ main::stream_alerts() }, 1, "$name - crossed: one alert");
main::age_surge('billing', 61);
is_deeply(main::insights(), [], "$name - an hour and a minute later: no surge");
my $id = main::new_ticket('billing');
is(scalar @{ main::stream_alerts() }, 1, "$name - one ticket: no alert");
my $m = $r->lindex('cs:recur:surge:billing:minutes', 0);
is_deeply({ $r->hgetall('cs:recur:surge:billing') }, { n => 1, last => $id, $m => 1, "f$m" => $id,
                                                       head => $m, alerted => 0 },
          "$name - the old minutes are dropped, the count is 1, the head is this minute");
is($r->llen('cs:recur:surge:billing:minutes'), 1, "$name - one minute listed");
is($r->hget('cs:recur:surge:billing', 'alerted'), 0, "$name - re-armed");
my @more = map { main::new_ticket('billing') } 1 .. 2;
my $alerts = main::stream_alerts();
is(scalar @$alerts, 2, "$name - N again: a second alert");
is_deeply([ @{ $alerts->[1] }{qw(kind count ticketId)} ], [ 'surge', 3, $more[-1] ], "$name - for the new crossing");
my $got = main::insights();
is_deeply([ @{ $got->[0] }{qw(count firstTicketId lastTicketId)} ], [ 3, $id, $more[-1] ],
          "$name - the window's first ticket is the first after the gap");



=== TEST 4: exact to the minute: of a window of 60 minutes, the minute 59 back counts and the minute 60 back does not
--- stored
my ($ok, @seen);
for my $try (1 .. 3) {
    CsTest::flush_redis();
    my $m = int(main::redis_now_ms() / 60000);
    my $k = 'cs:recur:surge:billing';
    $r->hset($k, $m - 60, 5, 'f' . ($m - 60), 901, $m - 59, 2, 'f' . ($m - 59), 906, n => 7, last => 907,
             head => $m - 60);
    $r->rpush("$k:minutes", $m - 60, $m - 59);
    $r->hset('cs:metrics', 'label:billing', 1, 'categories', 1);
    my $before = main::insights();
    my $id = main::new_ticket('billing');
    my $after = main::insights();
    my $alerts = main::stream_alerts();
    # the minute turned meanwhile: again
    next if int(main::redis_now_ms() / 60000) != $m;
    @seen = ($before, $after, $alerts, $id, $m, { $r->hgetall($k) }, [ $r->lrange("$k:minutes", 0, -1) ]);
    $ok = 1;
    last;
}
ok($ok, "$name - ran within one minute");
my ($before, $after, $alerts, $id, $m, $h, $list) = @seen;
is_deeply($before, [], "$name - 2 in the window: below N");
is_deeply([ @{ $after->[0] }{qw(count firstTicketId lastTicketId)} ], [ 3, 906, $id ],
          "$name - one more: 3, the first from the minute 59 back");
is_deeply([ map { @$_{qw(count ticketId)} } @$alerts ], [ 3, $id ], "$name - one alert, count 3");
is_deeply($list, [ $m - 59, $m ], "$name - the minute 60 back is dropped from the list");
ok(!exists $h->{$m - 60} && !exists $h->{'f' . ($m - 60)}, "$name - and from the hash");
is($h->{n}, 3, "$name - the running total");
is($h->{head}, $m - 59, "$name - the head: the oldest minute left");



=== TEST 5: unhappy ratings: the Nth within the window is one alert; a changed rating that stops being unhappy lowers the count and re-arms; the alert holds no comment and no user id
--- stored
my $alice = new_agent('alice', 10);
my @t = map { [ main::solved_ticket($alice, 'shipping') ] } 1 .. 3;
my $l = main::listen_alerts();
main::rate(@{ $t[$_] }, '{"csat":1,"comment":"my secret words"}') for 0 .. 1;
is_deeply([ grep { $_->{kind} eq 'unhappy' } @{ main::heard($l) } ], [], "$name - two unhappy: no recurring alert");
my ($st, $b) = main::rate(@{ $t[2] }, '{"csat":2,"comment":"my secret words"}');
is($st, 201, "$name - rated");
my $want = { type => 'recurring', kind => 'unhappy', category => 'shipping', count => 3,
             threshold => 3, windowSeconds => 3600, ticketId => $t[2][0] };
is_deeply([ grep { $_->{kind} eq 'unhappy' } @{ main::heard($l) } ], [ $want ], "$name - the third: one alert, heard live");
is_deeply([ grep { $_->{kind} eq 'unhappy' } @{ main::stream_alerts() } ], [ $want ], "$name - and in the stream");
my ($u) = grep { $_->{kind} eq 'unhappy' } @{ main::insights() };
is_deeply([ @$u{qw(category count threshold firstTicketId lastTicketId rule action)} ],
          [ 'shipping', 3, 3, $t[0][0], $t[2][0], undef, 'add_rule' ], "$name - in insights: add a rule");
like($u->{suggestion}, qr/\b3 unhappy ratings in category "shipping" within 1h .*add a cs_rule/,
     "$name - the sentence");
main::rate(@{ $t[1] }, '{"csat":1}');
is(scalar(grep { $_->{kind} eq 'unhappy' } @{ main::stream_alerts() }), 1, "$name - unhappy to unhappy: no new alert");
main::rate(@{ $t[1] }, '{"csat":5}');
is($r->zcard('cs:recur:unhappy:shipping'), 2, "$name - happy again: out of the count");
ok(!$r->hexists("cs:ticket:$t[1][0]", 'unhappyLabel'), "$name - the ticket is no longer counted");
ok(!grep({ $_->{kind} eq 'unhappy' } @{ main::insights() }), "$name - below N: gone from insights");
ok(!$r->hexists('cs:recur:alerted', 'unhappy:shipping'), "$name - re-armed");
main::rate(@{ $t[1] }, '{"csat":1}');
my @u = grep { $_->{kind} eq 'unhappy' } @{ main::heard($l) };
is(scalar @u, 2, "$name - unhappy again: N again, a new alert");
is_deeply([ @{ $u[1] }{qw(count ticketId)} ], [ 3, $t[1][0] ], "$name - for this rating");
my $raw = join ' ', map { @{ $_->[1] } } $r->xrange('cs:alerts', '-', '+');
my $file = do { open my $fh, '<', $l->{file} or die; local $/; <$fh> };
unlike("$raw $file", qr/secret words|u-\d+/, "$name - no comment and no user id in any alert");
main::stop_listening($l);
invariants_hold($name);



=== TEST 6: unhappy ratings in a category a rule answers: review the rule, with how many of its answers were reopened
--- stored
my $alice = new_agent('alice', 10);
my $auto = CsApi::intake('u-auto', category => 'billing', issue => 'I want a refund');
is($auto->{state}, 'auto_resolved', "$name - the rule answered one");
api(POST => "tickets/$auto->{ticketId}/messages", $auto->{token}, '{"body":"that did not help"}');
is($r->hget('cs:rule:refund', 'reopened'), 1, "$name - and it was reopened");
my @t = map { [ main::solved_ticket($alice, 'billing') ] } 1 .. 3;
main::rate(@$_, '{"csat":1}') for @t;
my ($u) = grep { $_->{kind} eq 'unhappy' } @{ main::insights() };
is_deeply([ @$u{qw(category count rule action)} ], [ 'billing', 3, 'refund', 'review_rule' ],
          "$name - the rule, and review it");
like($u->{suggestion}, qr/review rule "refund".*1 of its 1 answers were reopened/, "$name - the sentence");



=== TEST 7: a foreign value at a key the counting writes refuses the intake or the feedback, with nothing written
--- stored
my $alice = new_agent('alice', 10);
my ($id, $tok) = main::solved_ticket($alice, 'shipping');
for my $c ([ 'cs:recur:surge:billing', 'the surge hash' ], [ 'cs:recur:surge:billing:minutes', 'the minutes' ]) {
    $r->set($c->[0], 'foreign');
    my $before = store();
    my ($st) = CsTest::post_ticket('{"userId":"u1","issue":"x","category":"billing"}');
    is($st, 500, "$name - $c->[1]: the intake fails");
    is(store(), $before, "$name - $c->[1]: nothing written");
    $r->del($c->[0]);
}
for my $c ([ 'cs:recur:unhappy:shipping', 'the unhappy set' ], [ 'cs:recur:alerted', 'the alerted flags' ]) {
    $r->set($c->[0], 'foreign');
    my $before = store();
    my ($st) = main::rate($id, $tok, '{"csat":1}');
    is($st, 500, "$name - $c->[1]: the feedback fails");
    is(store(), $before, "$name - $c->[1]: nothing written");
    $r->del($c->[0]);
}
main::new_ticket('billing') for 1 .. 2;
$r->del('cs:alerts');
$r->set('cs:alerts', 'foreign');
my $before = store();
my ($st) = CsTest::post_ticket('{"userId":"u1","issue":"x","category":"billing"}');
is($st, 500, "$name - the alerts stream, when an alert is due: the intake fails");
is(store(), $before, "$name - nothing written");



=== TEST 8: cs_recurring is read per desk: another N and window are used by the scripts
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_recurring 2 90m;
}
--- stored
my @ids = map { main::new_ticket('billing') } 1 .. 2;
is_deeply(main::stream_alerts(), [ { type => 'recurring', kind => 'surge', category => 'billing', count => 2,
                                     threshold => 2, windowSeconds => 5400, ticketId => $ids[1] } ],
          "$name - N 2, 90 minutes");
like(main::insights()->[0]{suggestion}, qr/within 1h30m \(threshold 2\)/, "$name - the window in words");



=== TEST 9: an alert is written after the call's other writes: an alerts stream that takes no entry more (its last id the last of the id space) refuses the intake or the rating that would alert, with nothing written; one that raises no alert is taken
--- stored
my $alice = new_agent('alice', 10);
main::new_ticket('billing') for 1 .. 2;
$r->xadd('cs:alerts', '18446744073709551615-18446744073709551615', 'alert', 'not the desk\'s');
my $before = store();
my ($st, $answer) = CsTest::post_ticket('{"userId":"u1","issue":"x","category":"billing"}');
is($st, 500, "$name - the surge's third ticket: the intake fails");
like($answer, qr/"internal_error"/, "$name - internal_error");
is(store(), $before, "$name - nothing written");
($st) = CsTest::post_ticket('{"userId":"u1","issue":"x","category":"shipping"}');
is($st, 201, "$name - a ticket that raises no alert is taken");
is($r->hget('cs:recur:surge:shipping', 'n'), 1, "$name - and counted");
# the unhappy kind: the third unhappy rating raises a recurring alert
# (and its csat alert)
$r->del('cs:alerts');
my @t = map { [ main::solved_ticket($alice, 'shipping') ] } 1 .. 3;
my ($st1) = main::rate(@{ $t[0] }, '{"csat":1}');
my ($st2) = main::rate(@{ $t[1] }, '{"csat":1}');
is("$st1 $st2", '201 201', "$name - two unhappy ratings");
$r->del('cs:alerts');
$r->xadd('cs:alerts', '18446744073709551615-18446744073709551615', 'alert', 'not the desk\'s');
$before = store();
($st) = main::rate(@{ $t[2] }, '{"csat":1}');
is($st, 500, "$name - the third unhappy rating: the feedback fails");
is(store(), $before, "$name - nothing written");
($st) = main::rate(@{ $t[2] }, '{"csat":5}');
is($st, 201, "$name - a happy rating, no alert: taken");
$r->del('cs:alerts');
($st) = CsTest::post_ticket('{"userId":"u1","issue":"x","category":"billing"}');
is($st, 201, "$name - the stream mended: the intake alerts");
is_deeply([ map { $_->{kind} } @{ main::stream_alerts() } ], [ 'surge' ], "$name - the surge's alert");
--- error_log
cs: the key "cs:alerts" holds a value of the wrong type
