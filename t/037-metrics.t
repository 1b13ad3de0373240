# The desk's figures (GET metrics): every one against a scripted history
# through HTTP.  The seed's examples come out exactly: 60 satisfied of 100
# ratings is 60%, 40 repeat customers of 100 is 40%, and 10 ces ratings
# summing to 63 give 6.3 (the seed's 10 summing to 90, 9.0 on its 1-10
# scale, is 9/10 of the top; ours is 1-7, so 9/10 of 7 = 6.3).  A changed
# rating moves the figures exactly; a reopened auto-resolved ticket lowers
# the auto-resolution rate; times land in their buckets, and the median and
# p90 are read from the buckets.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use JSON::PP;

redis_start();

our $Admin = $CsApi::Admin;

sub metrics {
    my ($st, $b) = CsApi::admin(GET => 'metrics');
    die "GET metrics: $st\n" unless $st == 200;
    return $b;
}

# Redis' own time, in ms
sub now_ms {
    my ($s, $us) = CsTest::redis()->time;
    return $s * 1000 + int($us / 1000);
}

# a ticket created $ago ms before now, as far as the figures know
sub backdate {
    my ($id, $ago) = @_;
    CsTest::redis()->hset("cs:ticket:$id", 'createdAt', now_ms() - $ago);
}

# the buckets as {le => cumulative count}
sub buckets { return { map { $_->{le} => $_->{count} } @{ $_[0]{buckets} } } }

check_stored_sections();

desk_blocks(['cs_rule faq "(?i)password" "Reset it at https://example.com/reset" account;']);

run_tests();

__DATA__

=== TEST 1: CSAT and CES, the seed's examples: 60 of 100 ratings are 4 or 5 (60%); 10 ces ratings summing to 63 give 6.3
--- stored
my (@csat, @ces);
for my $i (0 .. 99) {
    my $t = intake("csat-$i", issue => 'I forgot my password');
    my $csat = $i < 30 ? 5 : $i < 60 ? 4 : 1 + $i % 3;
    my $ces = (7, 7, 7, 7, 7, 7, 7, 5, 5, 4)[$i];
    my ($st) = api(POST => "tickets/$t->{ticketId}/feedback", $t->{token},
                   encode_json({ csat => $csat, defined $ces ? (ces => $ces) : () }));
    die "feedback: $st\n" unless $st == 201;
    push @csat, $csat;
    push @ces, $ces if defined $ces;
}
my $satisfied = grep { $_ >= 4 } @csat;
my $ces_sum = 0;
$ces_sum += $_ for @ces;
my $m = main::metrics();
is_deeply($m->{csat}, { ratings => 100, satisfied => 60, percent => 60 },
          "$name - CSAT: 60 satisfied of 100 is 60%");
is($m->{csat}{percent}, $satisfied / @csat * 100, "$name - the formula, from the ratings sent");
is_deeply($m->{ces}, { ratings => 10, sum => 63, mean => 6.3 }, "$name - CES: 10 ratings summing to 63 give 6.3");
is($m->{ces}{mean}, $ces_sum / @ces, "$name - the mean, from the ratings sent");
is($m->{tickets}{total}, 100, "$name - 100 tickets");
invariants_hold($name, metrics => 1);



=== TEST 2: loyalty, the seed's example: of 100 customers, 40 have two tickets or more (40%)
--- stored
for my $i (0 .. 99) {
    my $n = $i < 30 ? 2 : $i < 40 ? 3 : 1;
    intake("loyal-$i") for 1 .. $n;
}
my $m = main::metrics();
is_deeply($m->{loyalty}, { customers => 100, repeat => 40, percent => 40 },
          "$name - 40 repeat customers of 100 is 40%");
is($m->{tickets}{total}, 30 * 2 + 10 * 3 + 60, "$name - every ticket counted");
my %len = map { $_ => $r->llen($_) } grep { /^cs:user:[^:]+:tickets$/ } CsTest::redis_keys('cs:user:*');
is($m->{loyalty}{customers}, scalar(keys %len), "$name - customers: the users' histories");
is($m->{loyalty}{repeat}, scalar(grep { $_ >= 2 } values %len), "$name - repeat: the histories of two or more");
invariants_hold($name, metrics => 1);



=== TEST 3: tickets by state (the present: the state indexes) and by channel, priority and category (the past: as created)
--- stored
my $alice = new_agent('alice', 10);
my @t;
push @t, intake('s1', channel => 'web', priority => 'urgent', category => 'billing');
push @t, intake('s2', channel => 'web', priority => 'low', category => 'billing');
push @t, intake('s3', channel => 'email', category => 'shipping');
push @t, intake('s4', channel => 'chat');
push @t, intake('s5');
push @t, intake('s6', channel => 'phone', priority => 'high');
my $m = main::metrics();
is_deeply($m->{tickets}{byState}, { queued => 0, assigned => 6, pending => 0, solved => 0, closed => 0, auto_resolved => 0 },
          "$name - six assigned");
api(POST => "tickets/$t[0]{ticketId}/status", $alice, '{"state":"solved"}');
api(POST => "tickets/$t[1]{ticketId}/status", $alice, '{"state":"pending"}');
admin(POST => "tickets/$t[2]{ticketId}/status", '{"state":"closed"}');
admin(POST => "tickets/$t[3]{ticketId}/assign", '{"agent":null}');
api(POST => "tickets/$t[4]{ticketId}/fields", $alice, '{"category":"refunds","priority":"urgent"}');
$m = main::metrics();
is_deeply($m->{tickets}{byState}, { queued => 1, assigned => 2, pending => 1, solved => 1, closed => 1, auto_resolved => 0 },
          "$name - by state, as they are now");
for my $s (keys %{ $m->{tickets}{byState} }) {
    is($m->{tickets}{byState}{$s}, $r->zcard("cs:state:$s"), "$name - $s: the state index's cardinality");
}
is($m->{tickets}{total}, 6, "$name - total");
is_deeply($m->{tickets}{byChannel}, { web => 2, email => 1, chat => 1, social => 0, phone => 1, api => 1 },
          "$name - by channel (api is the default)");
is_deeply($m->{tickets}{byPriority}, { low => 1, normal => 3, high => 1, urgent => 1 },
          "$name - by priority as created (normal is the default; a later change is not the past's)");
is_deeply($m->{tickets}{byCategory}, { billing => 2, shipping => 1, none => 3 },
          "$name - by category as created, none for none");
is_deeply($m->{agents}, [{ name => 'alice', load => 2, capacity => 10, solved => 1 }],
          "$name - alice: two assigned, one solved");
invariants_hold($name, metrics => 1);



=== TEST 4: the first 50 categories seen have a label of their own, the rest count as other
--- stored
intake("cat-$_", category => sprintf('c%02d', $_)) for 0 .. 52;
intake('cat-again', category => 'c00');
intake('cat-late', category => 'c51');
intake('cat-none');
my $m = main::metrics();
my %want = map { (sprintf('c%02d', $_) => 1) } 0 .. 49;
$want{c00} = 2;
$want{other} = 4;
$want{none} = 1;
is_deeply($m->{tickets}{byCategory}, \%want, "$name - c00 to c49, then other (c50, c51 twice, c52), and none");
is($m->{tickets}{total}, 56, "$name - total");
invariants_hold($name, metrics => 1);



=== TEST 5: auto-resolution: the tickets a rule answered and never reopened, of all; a reopen lowers it; per rule answered and reopened
--- stored
my @auto = map { intake("auto-$_", issue => 'my password is lost') } 1 .. 3;
intake("plain-$_") for 1 .. 5;
my $m = main::metrics();
is_deeply($m->{autoResolution}, { tickets => 8, autoResolved => 3, reopened => 0, rate => 37.5 },
          "$name - 3 of 8");
is_deeply($m->{rules}, [{ rule => 'faq', answered => 3, reopened => 0 }], "$name - faq answered 3");
is(main::buckets($m->{resolution})->{10}, 3, "$name - an auto-resolved ticket's resolution time is 0");
my ($st) = api(POST => "tickets/$auto[0]{ticketId}/messages", $auto[0]{token}, '{"body":"that did not help"}');
is($st, 201, "$name - the customer reopens one");
api(POST => "tickets/$auto[0]{ticketId}/messages", $auto[0]{token}, '{"body":"still there?"}');
$m = main::metrics();
is_deeply($m->{autoResolution}, { tickets => 8, autoResolved => 3, reopened => 1, rate => 25 },
          "$name - (3 - 1) of 8: the rate falls, a second message counts nothing");
is_deeply($m->{rules}, [{ rule => 'faq', answered => 3, reopened => 1 }], "$name - faq reopened once");
is($m->{tickets}{byState}{auto_resolved}, 2, "$name - two still auto_resolved");
invariants_hold($name, metrics => 1);



=== TEST 6: a changed rating within the window moves the figures exactly, and only by the change
--- stored
my @t = map { intake("fb-$_", issue => 'password again') } 1 .. 2;
api(POST => "tickets/$t[0]{ticketId}/feedback", $t[0]{token}, '{"csat":5,"ces":7}');
api(POST => "tickets/$t[1]{ticketId}/feedback", $t[1]{token}, '{"csat":3,"ces":2}');
my $m = main::metrics();
is_deeply([$m->{csat}, $m->{ces}], [{ ratings => 2, satisfied => 1, percent => 50 }, { ratings => 2, sum => 9, mean => 4.5 }],
          "$name - before");
my ($st) = api(POST => "tickets/$t[0]{ticketId}/feedback", $t[0]{token}, '{"csat":2}');
is($st, 200, "$name - replaced");
$m = main::metrics();
is_deeply([$m->{csat}, $m->{ces}], [{ ratings => 2, satisfied => 0, percent => 0 }, { ratings => 1, sum => 2, mean => 2 }],
          "$name - the rating out, the new one in (its ces omitted: gone)");
api(POST => "tickets/$t[0]{ticketId}/feedback", $t[0]{token}, '{"csat":4,"ces":6}');
$m = main::metrics();
is_deeply([$m->{csat}, $m->{ces}], [{ ratings => 2, satisfied => 1, percent => 50 }, { ratings => 2, sum => 8, mean => 4 }],
          "$name - and back");
invariants_hold($name, metrics => 1);



=== TEST 7: first-response and resolution times land in their buckets; the median and p90 are read from them; a second solve counts for the agent, not for the time
--- stored
my $alice = new_agent('alice', 10);
my @t = map { intake("time-$_") } 1 .. 3;
main::backdate($t[0]{ticketId}, 45_000);
main::backdate($t[1]{ticketId}, 90 * 60_000);
main::backdate($t[2]{ticketId}, 40 * 86_400_000);
for my $t (@t) {
    api(POST => "tickets/$t->{ticketId}/messages", $alice, '{"body":"on it"}');
    api(POST => "tickets/$t->{ticketId}/messages", $alice, '{"body":"second, not first"}');
}
api(POST => "tickets/$t[0]{ticketId}/messages", $alice, '{"body":"a note","internal":true}');
my $m = main::metrics();
my $f = $m->{firstResponse};
is($f->{count}, 3, "$name - three first responses");
my $b = main::buckets($f);
is_deeply([@$b{qw(10 30 60 3600 7200 2592000 +Inf)}], [0, 0, 1, 1, 2, 2, 3],
          "$name - 45 s in (30, 60], 90 min in (1 h, 2 h], 40 days past 30 d");
is_deeply([map { $_->{le} } @{ $f->{buckets} }],
          [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400,
           172800, 259200, 432000, 604800, 1209600, 2592000, '+Inf'], "$name - the bounds");
is($f->{medianSeconds}, 5400, "$name - median: rank 1.5 falls half way into (3600, 7200]");
is($f->{p90Seconds}, 2592000, "$name - p90: past the last bound, the last bound");
my $sum = 45 + 5400 + 40 * 86400;
ok($f->{sumSeconds} >= $sum && $f->{sumSeconds} < $sum + 30, "$name - the sum ($f->{sumSeconds})");
is($m->{resolution}{count}, 0, "$name - nothing solved yet");
is($m->{resolution}{medianSeconds}, undef, "$name - no median without a count");

api(POST => "tickets/$t[0]{ticketId}/status", $alice, '{"state":"solved"}');
api(POST => "tickets/$t[0]{ticketId}/messages", $t[0]{token}, '{"body":"one more thing"}');
api(POST => "tickets/$t[0]{ticketId}/status", $alice, '{"state":"solved"}');
$m = main::metrics();
my $res = $m->{resolution};
is($res->{count}, 1, "$name - the first solve only");
is(main::buckets($res)->{30}, 0, "$name - resolution: not under 30 s");
is(main::buckets($res)->{60}, 1, "$name - resolution: 45 s, in (30, 60]");
is($res->{medianSeconds}, 45, "$name - median of one in (30, 60]: its middle");
is($res->{p90Seconds}, 57, "$name - p90: 9/10 into it");
is_deeply($m->{agents}, [{ name => 'alice', load => 2, capacity => 10, solved => 2 }],
          "$name - alice solved twice");
is($m->{firstResponse}{count}, 3, "$name - a reopen gives no second first response");
invariants_hold($name, metrics => 1);



=== TEST 8: only an admin reads the figures; an empty desk has zeros and nulls
--- stored
my $alice = new_agent('alice', 1);
my ($st) = api(GET => 'metrics', $alice);
is($st, 403, "$name - an agent: 403");
($st) = api(GET => 'metrics');
is($st, 401, "$name - no token: 401");
my $m = main::metrics();
is($m->{status}, 'success', "$name - success");
is_deeply([$m->{csat}, $m->{loyalty}, $m->{ces}, $m->{autoResolution}],
          [{ ratings => 0, satisfied => 0, percent => undef }, { customers => 0, repeat => 0, percent => undef },
           { ratings => 0, sum => 0, mean => undef }, { tickets => 0, autoResolved => 0, reopened => 0, rate => undef }],
          "$name - nothing yet: null, never a division by zero");
is($m->{firstResponse}{buckets}[-1]{count}, 0, "$name - empty buckets");
is_deeply($m->{rules}, [], "$name - no rule answered yet");
is_deeply($m->{agents}, [{ name => 'alice', load => 0, capacity => 1, solved => 0 }], "$name - alice");



=== TEST 9: a foreign value at the figures' key fails the scripts that move them before their first write
--- stored
my $alice = new_agent('alice', 5);
my $t = intake('wt-1');
$r->set('cs:metrics', 'not a hash');
my $before = store();
my ($st) = api(POST => 'service', undef, '{"userId":"wt-2","issue":"help"}');
is($st, 500, "$name - intake: 500");
($st) = api(POST => "tickets/$t->{ticketId}/messages", $alice, '{"body":"hello"}');
is($st, 500, "$name - a message: 500");
($st) = api(POST => "tickets/$t->{ticketId}/status", $alice, '{"state":"solved"}');
is($st, 500, "$name - a status: 500");
($st) = admin(GET => 'metrics');
is($st, 500, "$name - GET metrics: 500");
is(store(), $before, "$name - nothing written");



=== TEST 10: with cs_agents, the static agents: their open tickets as load, no capacity, their solves
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1 agent2;
}
--- stored
my @t = map { intake("static-$_") } 1 .. 3;
admin(POST => "tickets/$t[0]{ticketId}/status", '{"state":"solved"}');
my $m = main::metrics();
is_deeply($m->{agents}, [{ name => 'agent1', load => 1, capacity => undef, solved => 1 },
                         { name => 'agent2', load => 1, capacity => undef, solved => 0 }],
          "$name - agent1: one open, one solved; agent2: one open");
is($m->{tickets}{byState}{assigned}, 2, "$name - two assigned");
# (chaos/desk.pl knows the registry's agents only)
