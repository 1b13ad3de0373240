# Trends: the intake counts created tickets per category per UTC hour and
# per UTC day, in buckets that expire; GET trends reads a range of them,
# every bucket listed and zero-filled, within 90 days of hours or 3 years
# of days.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use List::Util qw(sum);

redis_start();

our $Admin = $CsApi::Admin;
our $H = 3600_000;
our $D = 86400_000;

sub now_ms { my ($s, $us) = CsTest::redis()->time; return $s * 1000 + int($us / 1000) }

sub trends { return CsApi::admin(GET => "trends?$_[0]") }

# the tickets' creation times, by id
sub created { return CsTest::redis()->hget("cs:ticket:$_[0]", 'createdAt') }

# a ticket of this category (undef: none); its id
sub new_ticket {
    my ($category) = @_;
    my $t = CsApi::intake('u-' . int(rand(1e9)), defined $category ? (category => $category) : ());
    die "intake failed\n" unless $t->{ticketId};
    return $t->{ticketId};
}

# the expected counts per bucket start, from the tickets' own times
sub expected {
    my ($size, %by) = @_;
    my %want;
    for my $cat (keys %by) {
        for my $id (@{ $by{$cat} }) {
            my $at = created($id);
            $want{$at - $at % $size}{$cat}++;
        }
    }
    return \%want;
}

check_stored_sections();

desk_blocks();

run_tests();

__DATA__

=== TEST 1: hourly: every bucket of the range listed in order, every category in every bucket, zero-filled; the counts are the tickets created in each hour
--- stored
my %by = (billing => [ map { main::new_ticket('billing') } 1 .. 3 ],
          none => [ main::new_ticket() ], shipping => [ map { main::new_ticket('shipping') } 1 .. 2 ]);
my $to = main::now_ms();
my $from = $to - 5 * $main::H - 1234;
my ($st, $b) = main::trends("from=$from&to=$to&bucket=hour");
is($st, 200, "$name - 200");
my $first = $from - $from % $main::H;
is($b->{from}, $first, "$name - from is the first bucket's start");
is($b->{to}, $to, "$name - to as asked");
is($b->{bucket}, 'hour', "$name - hour");
is_deeply($b->{categories}, [qw(billing none shipping)], "$name - the categories with a count, sorted");
my $n = int(($to - $first + $main::H - 1) / $main::H);
is(scalar @{ $b->{buckets} }, $n, "$name - $n buckets: [from, to) in whole hours");
is_deeply([ map { $_->{at} } @{ $b->{buckets} } ], [ map { $first + $_ * $main::H } 0 .. $n - 1 ],
          "$name - one bucket per hour, in order, none missing");
my $want = main::expected($main::H, %by);
my %got = map { $_->{at} => $_->{counts} } @{ $b->{buckets} };
for my $at (sort keys %got) {
    is_deeply($got{$at}, { map { $_ => $want->{$at}{$_} // 0 } qw(billing none shipping) },
              "$name - bucket $at: the hour's counts, zeros filled");
}
is(sum(map { $_->{counts}{billing} } @{ $b->{buckets} }), 3, "$name - three billing in all");
my $none = main::created($by{none}[0]);
is($r->hget('cs:trend:' . ($none - $none % $main::D), sprintf('none:%02d', ($none % $main::D) / $main::H)), 1,
   "$name - a ticket without a category counts as none");



=== TEST 2: daily, with earlier days in Redis: 30 days by default, day buckets from UTC midnight, zero-filled
--- stored
my @ids = map { main::new_ticket('billing') } 1 .. 2;
my $now = main::now_ms();
my $today = $now - $now % $main::D;
# a category the figures gave a label to, as the intake of then did
$r->hset('cs:metrics', 'label:refunds', 1);
$r->hset('cs:trend:' . ($today - 2 * $main::D), 'refunds', 4);
$r->hset('cs:trend:' . ($today - 40 * $main::D), 'refunds', 9);
my ($st, $b) = main::trends('bucket=day');
is($st, 200, "$name - 200");
is($b->{bucket}, 'day', "$name - day");
my $n = scalar @{ $b->{buckets} };
ok($n == 31, "$name - 30 days back from now: 31 day buckets") or diag($n);
is($b->{buckets}[-1]{at}, $today, "$name - the last bucket is today (UTC)");
is_deeply($b->{categories}, [qw(billing refunds)], "$name - the categories in range (not the one 40 days back)");
my %got = map { $_->{at} => $_->{counts} } @{ $b->{buckets} };
my $want = main::expected($main::D, billing => \@ids);
is_deeply($got{$today - 2 * $main::D}, { billing => 0, refunds => 4 }, "$name - two days ago");
is_deeply($got{$today - 5 * $main::D}, { billing => 0, refunds => 0 }, "$name - an empty day: zeros");
is(sum(map { $_->{billing} } values %got), 2, "$name - both tickets counted");
for my $at (keys %$want) {
    is($got{$at}{billing}, $want->{$at}{billing}, "$name - day $at");
}



=== TEST 3: category= gives that category alone, zeros where it has none, also one never seen
--- stored
main::new_ticket('billing') for 1 .. 2;
main::new_ticket('shipping');
my $to = main::now_ms();
my ($st, $b) = main::trends("from=" . ($to - 2 * $main::H) . "&to=$to&category=billing");
is($st, 200, "$name - 200");
is_deeply($b->{categories}, ['billing'], "$name - the one category");
is(sum(map { $_->{counts}{billing} } @{ $b->{buckets} }), 2, "$name - its counts");
ok(!grep({ exists $_->{counts}{shipping} } @{ $b->{buckets} }), "$name - no other category");
($st, $b) = main::trends("from=" . ($to - 2 * $main::H) . "&to=$to&category=never-seen");
is_deeply($b->{categories}, ['never-seen'], "$name - a category never seen is listed");
is_deeply([ map { $_->{counts} } @{ $b->{buckets} } ], [ map { { 'never-seen' => 0 } } @{ $b->{buckets} } ],
          "$name - with zeros");
is(scalar @{ $b->{buckets} }, 3, "$name - and every bucket");



=== TEST 4: the range: at most 2160 hours (90 days) or 1096 days (3 years); more, or from after to, or a bad value is 422 invalid_field naming the field
--- stored
my $day90 = 90 * $main::D;
my ($st, $b) = main::trends("from=0&to=$day90&bucket=hour");
is($st, 200, "$name - exactly 90 days of hours: 200");
is(scalar @{ $b->{buckets} }, 2160, "$name - 2160 buckets");
is($b->{buckets}[-1]{at}, $day90 - $main::H, "$name - the last starts an hour before to");
($st, $b) = main::trends("from=0&to=" . ($day90 + 1) . "&bucket=hour");
is($st, 422, "$name - 90 days and 1 ms of hours: 422");
is_deeply([ @$b{qw(error field)} ], [ 'invalid_field', 'from' ], "$name - invalid_field, from");
($st, $b) = main::trends("from=1&to=" . ($day90 + 1));
is($st, 422, "$name - 90 days from an unaligned from span 2161 hours: 422");
my $y3 = 1096 * $main::D;
($st, $b) = main::trends("from=0&to=$y3&bucket=day");
is($st, 200, "$name - 1096 days: 200");
is(scalar @{ $b->{buckets} }, 1096, "$name - 1096 buckets");
($st, $b) = main::trends("from=0&to=" . ($y3 + 1) . "&bucket=day");
is($st, 422, "$name - 1096 days and 1 ms: 422");
is_deeply([ @$b{qw(error field)} ], [ 'invalid_field', 'from' ], "$name - invalid_field, from");
($st, $b) = main::trends("from=5000&to=4000");
is_deeply([ $st, @$b{qw(error field)} ], [ 422, 'invalid_field', 'from' ], "$name - from after to");
($st, $b) = main::trends("from=4000&to=4000");
is_deeply([ $st, $b->{buckets}, $b->{from} ], [ 200, [ { at => 0, counts => {} } ], 0 ],
          "$name - from = to inside an hour: that hour");
for my $bad ([ 'from=abc', 'from' ], [ 'from=-5', 'from' ], [ 'to=1.5', 'to' ], [ 'to=', 'to' ],
             [ 'from=1234567890123456', 'from' ], [ 'bucket=week', 'bucket' ], [ 'bucket=', 'bucket' ],
             [ 'category=Bad!', 'category' ], [ 'category=' . ('a' x 65), 'category' ]) {
    ($st, $b) = main::trends($bad->[0]);
    is_deeply([ $st, @$b{qw(error field)} ], [ 422, 'invalid_field', $bad->[1] ], "$name - $bad->[0]: 422 $bad->[1]");
}
is(store(), '', "$name - nothing written by a read");



=== TEST 5: the buckets expire: a day's hash, its hours with it, 1100 days after the day's end
--- stored
my $id = main::new_ticket('billing');
my $at = main::created($id);
my $day = $at - $at % $main::D;
my $now = main::now_ms();
my $ttl = $r->pttl("cs:trend:$day");
my $want = $day + $main::D + 1100 * $main::D - $now;
ok(abs($ttl - $want) < 2000, "$name - the day's hash: 1100 days after the day's end") or diag("$ttl vs $want");
is($r->hget("cs:trend:$day", sprintf('billing:%02d', ($at % $main::D) / $main::H)), 1, "$name - the hour's count in the day's hash");
is($r->hget("cs:trend:$day", 'billing'), 1, "$name - the day's count");
main::new_ticket('billing');
main::new_ticket('other-cat');
ok($r->pttl("cs:trend:$day") > 1000 * $main::D || $r->pttl("cs:trend:" . ($day + $main::D)) > 1000 * $main::D,
   "$name - still set after more tickets");



=== TEST 6: categories are capped: the first 50 seen count under their name, the rest under other
--- stored
main::new_ticket(sprintf 'c%02d', $_) for 1 .. 52;
main::new_ticket('c01');
my $to = main::now_ms();
my ($st, $b) = main::trends("from=" . ($to - $main::H) . "&to=$to");
my %sum;
for my $bk (@{ $b->{buckets} }) {
    $sum{$_} += $bk->{counts}{$_} for keys %{ $bk->{counts} };
}
is(scalar(grep { /^c\d\d$/ } keys %sum), 50, "$name - 50 named categories");
ok(!exists $sum{c51} && !exists $sum{c52}, "$name - not the 51st and 52nd");
is($sum{other}, 2, "$name - they count as other");
is($sum{c01}, 2, "$name - a category seen before still counts under its name");
is($r->hget('cs:metrics', 'categories'), 50, "$name - the same 50 labels as the figures'");
(undef, my $m) = admin(GET => 'metrics');
is_deeply([ sort keys %{ $m->{tickets}{byCategory} } ], [ sort keys %sum ], "$name - GET metrics has the same labels");



=== TEST 7: admins only; a foreign value at a bucket's key refuses the intake with nothing written, and GET trends over it is 500 (a lasting fault, not a 503 to retry)
--- stored
my $alice = new_agent('alice', 5);
my ($st) = api(GET => 'trends', $alice);
is($st, 403, "$name - an agent: 403");
($st) = api(GET => 'trends');
is($st, 401, "$name - no token: 401");
my $now = main::now_ms();
my $day = $now - $now % $main::D;
# the next day too, should the day turn while the test runs
$r->set("cs:trend:$_", 'foreign') for $day, $day + $main::D;
my $before = store();
my ($code) = CsTest::post_ticket('{"userId":"u1","issue":"x","category":"billing"}');
is($code, 500, "$name - the intake fails: 500");
is(store(), $before, "$name - nothing written");
my ($tst, $tb) = main::trends("from=$day&to=" . ($day + $main::D));
is($tst, 500, "$name - GET trends over it: 500, not a 503 to retry");
is($tb->{error}, 'internal_error', "$name - internal_error");



=== TEST 8: hours across days: each day's hours read from its hash, its day fields never taken for hours; the day fields for days
--- stored
my $d = 100 * $main::D;
$r->hset('cs:metrics', 'label:billing', 1, 'label:refunds', 1);
$r->hset("cs:trend:$d", 'billing', 5, 'billing:22', 2, 'billing:23', 3, 'refunds', 1, 'refunds:05', 1);
$r->hset('cs:trend:' . ($d + $main::D), 'billing', 4, 'billing:00', 4);
my ($st, $b) = main::trends('from=' . ($d + 22 * $main::H) . '&to=' . ($d + $main::D + 2 * $main::H));
is($st, 200, "$name - 200");
is_deeply($b->{categories}, ['billing'], "$name - only the labels with an hour in the range");
is_deeply([ map { $_->{counts}{billing} } @{ $b->{buckets} } ], [ 2, 3, 4, 0 ], "$name - 22h, 23h, 00h, 01h");
($st, $b) = main::trends('from=' . ($d + 23 * $main::H) . '&to=' . ($d + $main::D + $main::H) . '&category=billing');
is_deeply([ map { $_->{counts}{billing} } @{ $b->{buckets} } ], [ 3, 4 ], "$name - one category: 23h, 00h");
($st, $b) = main::trends("from=$d&to=" . ($d + 2 * $main::D) . '&bucket=day');
is_deeply($b->{categories}, [qw(billing refunds)], "$name - days: the day fields' labels");
is_deeply([ map { $_->{counts} } @{ $b->{buckets} } ], [ { billing => 5, refunds => 1 }, { billing => 4, refunds => 0 } ],
          "$name - days: the day fields' counts");
($st, $b) = main::trends("from=$d&to=" . ($d + 2 * $main::D) . '&bucket=day&category=refunds');
is_deeply([ map { $_->{counts}{refunds} } @{ $b->{buckets} } ], [ 1, 0 ], "$name - days, one category");
