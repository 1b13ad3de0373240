# The agents' page (conf/desk/) in a real browser: Debian's chromium,
# driven by playwright-core (t/page/desk.test.js), against this file's
# nginx (conf/nginx.conf's own location /desk/, its alias pointed at the
# checkout) and Redis.  An agent signs in by pasting its token, sends its
# heartbeat, opens a ticket from its queue with the keyboard, replies,
# meets the API's refusal (shown in the alert region) and solves it: Redis
# holds the new state and the reply.  A wrong token shows the API's 401.
# An admin sees the agents, the backlog, the figures (equal to GET
# metrics), the trends and the insights, or each section's API error.
# Screenshots go to build/page/.  Skipped only when chromium is missing
# (scripts/deps.sh test installs it, with playwright-core from
# t/page/package-lock.json).
use lib 't/lib';
use strict;
use warnings;
use Cwd ();

our ($Root, $Chromium);

BEGIN {
    $Root = Cwd::getcwd();
    $Chromium = (grep { -x $_ } '/usr/lib/chromium/chromium',
                                 '/usr/bin/chromium')[0];
    require Test::More;
    Test::More::plan(skip_all => 'chromium is not installed (Debian package'
        . ' chromium; scripts/deps.sh test installs it): the page is not'
        . ' tested') unless $Chromium;
    # chromium is here: the driver must be too, or the test fails
    unless (-d "$Root/t/page/node_modules/playwright-core"
            && system('node -e 1 >/dev/null 2>&1') == 0)
    {
        Test::More::plan(tests => 1);
        Test::More::fail('node and t/page/node_modules/playwright-core are'
                         . ' installed (scripts/deps.sh test runs npm ci in'
                         . ' t/page)');
        exit 1;
    }
}

use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use JSON::PP;
use IPC::Run ();

redis_start();

our $Admin = $CsApi::Admin;
our $Shots = "$Root/build/page";
my $root = $Root;

# conf/nginx.conf's location /desk/, as shipped, serving the checkout
open my $fh, '<', "$root/conf/nginx.conf" or die "conf/nginx.conf: $!";
my $conf = do { local $/; <$fh> };
close $fh;
my (undef, $desk) = $conf =~ /^( *)(location \/desk\/ \{.*?^\1\})/ms
    or die "conf/nginx.conf has no location /desk/\n";
$desk =~ s{alias /usr/share/nginx/cs-desk/;}{alias $root/conf/desk/;}
    or die "conf/nginx.conf's location /desk/ has no alias\n";
$ENV{TEST_NGINX_DESK_LOCATION} = $desk;

# runs desk.test.js in this mode with these settings: what the page showed
sub page {
    my ($mode, %env) = @_;
    my $timeout = CsTest::valgrind() ? 60000 : 15000;
    local @ENV{keys %env} = values %env;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    local $ENV{DESK_URL} = "http://127.0.0.1:$port/desk/";
    local $ENV{DESK_SHOTS} = $main::Shots;
    local $ENV{DESK_TIMEOUT} = $timeout;
    local $ENV{CHROMIUM} = $main::Chromium;
    my ($out, $err) = ('', '');
    my $ok = eval {
        IPC::Run::run(['node', "$main::Root/t/page/desk.test.js", $mode],
                      \undef, \$out, \$err,
                      IPC::Run::timeout(8 * $timeout / 1000));
    };
    Test::More::ok($ok, "the page's $mode run finishes")
        or Test::More::diag("desk.test.js $mode: "
                            . ($@ || "exit " . ($? >> 8)) . "\n$err");
    my $res = eval { JSON::PP->new->utf8->decode($out) } || {};
    Test::More::is_deeply($res->{pageErrors}, [],
                          "$mode - no script error in the page");
    return $res;
}

# a figure as the page shows it ({shown, value}) against the API's number:
# data-value is that number, and the text says it to its last digit
# ("60.0 %", "7.0 min", "90 s", "5.3", "no data" when the API has none)
my %unit = ('' => 1, '%' => 1, s => 1, min => 60, h => 3600, d => 86400);

sub shows {
    my ($f, $want) = @_;
    return 0 unless $f;
    return $f->{shown} eq 'no data' && $f->{value} eq '' unless defined $want;
    return 0 unless length $f->{value} && $f->{value} == $want;
    my ($num, $u) = $f->{shown} =~ /^(\d+(?:\.(\d))?)(?: (%|s|min|h|d))?$/
        ? ($1, $3 // '') : return 0;
    my $tol = ($num =~ /\./ ? 0.05 : 0.5) * $unit{$u};
    $tol = 0 if $u eq '' && $num !~ /\./;     # a count is exact
    return abs($num * $unit{$u} - $want) <= $tol + 1e-9;
}

check_stored_sections();

no_shuffle();
run_tests();

__DATA__

=== TEST 1: the page is served by location /desk/ with its security headers; an agent works a ticket to solved through it; an admin sees the desk
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_rule password "(?i)forgot.{0,20}password" "Reset it at https://example.com/reset" account;
}
$TEST_NGINX_DESK_LOCATION
--- init
CsTest::flush_redis();
--- request
GET /desk/
--- error_code: 200
--- no_error_log
[alert]
[crit]
[emerg]
--- response_headers_like
Content-Type: text/html; charset=utf-8
Content-Security-Policy: default-src 'none'; script-src 'self'.*
X-Content-Type-Options: nosniff
--- stored
like($body, qr{<title>Desk</title>.*<script src="desk\.js" defer></script>}s,
     "$name - the page");
# the desk: alice takes billing; shipping waits in the backlog; a rule
# answers a forgotten password; u1 comes twice (loyalty)
my ($st, $b) = api(PUT => 'agents/alice', $main::Admin,
                   '{"capacity":5,"skills":["billing"]}');
is($st, 201, "$name - alice created");
my $alice = $b->{token};
api(PUT => 'agents/alice/presence', $alice, '{"status":"online"}');
my $t1 = intake('u1', issue => 'My invoice is wrong', category => 'billing');
my $q = intake('u1', issue => 'Where is the parcel?', category => 'shipping');
my $c = intake('u2', issue => 'I forgot my password');
is($t1->{agent}, 'alice', "$name - the billing ticket is alice's");
is($q->{state}, 'queued', "$name - the shipping ticket waits");
is($c->{state}, 'auto_resolved', "$name - the rule answered one");
my $id = $t1->{ticketId};

# the agent, through the page
my $seen = $r->hget('cs:agent:alice', 'lastSeen');
my $p = main::page(agent => DESK_TOKEN => $alice, DESK_TICKET => $id);
is($p->{who}, 'Signed in as alice (agent)', "$name - GET me told the role");
unlike($p->{url}, qr/\Q$alice\E|token/, "$name - the token is not in the URL");
is($p->{stored}, $alice, "$name - the token is in sessionStorage");
cmp_ok($p->{heartbeats}{before}, '>=', 1, "$name - a heartbeat at sign-in");
cmp_ok($p->{heartbeats}{after}, '>', $p->{heartbeats}{before},
       "$name - and another after the interval, while the page is open");
like($p->{queueRow}, qr/^#\Q$id\E \| assigned \| normal \| billing \| My invoice is wrong \| \d{4}-\d\d-\d\d \d\d:\d\d UTC$/,
     "$name - the queue shows the ticket");
is($p->{issue}, 'My invoice is wrong', "$name - the ticket opened by keyboard");
is_deeply($p->{unnamed}, [], "$name - agent's view: every control labelled, every button named");
my $reply = 'We are on it <img src=x onerror="window.pwned=1"> &amp; back soon';
is($p->{replyShown}, $reply, "$name - the reply is shown as text");
ok(!$p->{injected}, "$name - markup in data stays text");
like($p->{errorShown}, qr/^Error: Changing #\Q$id\E to closed failed: 409 invalid_transition \x{2014} ./,
     "$name - the API's refusal is shown, with status and code");
is($p->{errorRole}, 'alert', "$name - in the alert region");
is($p->{status}, "Ticket #$id is now solved.", "$name - solved, the page says");
is($p->{stateShown}, 'solved', "$name - the ticket shows it");
is($p->{alertAfter}, '', "$name - the alert clears after a success");
is_deeply($p->{presence}[-1], 'away', "$name - presence set to away by the form");

# what the page did, in Redis
my %t = $r->hgetall("cs:ticket:$id");
is($t{state}, 'solved', "$name - Redis: the ticket is solved");
ok($t{solvedAt}, "$name - Redis: solvedAt set");
ok($t{firstResponseAt}, "$name - Redis: the reply was the first response");
my @msgs = map { JSON::PP->new->decode($_) } $r->lrange("cs:ticket:$id:messages", 0, -1);
is($msgs[-1]{body}, $reply, "$name - Redis: the reply, byte for byte");
is($msgs[-1]{agent}, 'alice', "$name - Redis: by alice");
ok(!$msgs[-1]{internal}, "$name - Redis: public");
is($r->hget('cs:agent:alice', 'status'), 'away', "$name - Redis: alice is away");
cmp_ok($r->hget('cs:agent:alice', 'lastSeen'), '>', $seen,
       "$name - Redis: the heartbeat moved lastSeen");

# ratings, so that the figures are not all empty
api(POST => "tickets/$id/feedback", $t1->{token}, '{"csat":5,"ces":6}');
api(POST => "tickets/$c->{ticketId}/feedback", $c->{token}, '{"csat":2,"ces":3}');

# a wrong token: the API's 401 shown, nothing kept
$p = main::page(bad => DESK_TOKEN => 'not-a-token');
like($p->{errorShown}, qr/^Error: Signing in failed: 401 unauthorized \x{2014} /,
     "$name - a wrong token: the API's 401 is shown");
ok($p->{loginVisible}, "$name - the sign-in form stays");
ok(!defined $p->{stored}, "$name - the wrong token is not kept");

# the admin
$p = main::page(admin => DESK_TOKEN => $main::Admin);
is($p->{who}, 'Signed in as root (admin)', "$name - GET me: admin");
is($p->{errors}{agents}, '', "$name - agents loaded");
is_deeply($p->{agents}, [[ 'alice', "\x{25d0} away", 0, 5, $p->{agents}[0][4] ]],
          "$name - the agents: presence in words, load, capacity");
is_deeply($p->{backlog}, [ $q->{ticketId} ], "$name - the backlog");
is_deeply($p->{unnamed}, [], "$name - admin's view: every control labelled, every button named");

my ($mst, $m) = api(GET => 'metrics', $main::Admin);
SKIP: {
    if ($mst != 200) {
        like($p->{errors}{figures},
             qr/^Error: Loading the figures \(GET metrics\) failed: \Q$mst\E /,
             "$name - GET metrics answers $mst: the page shows that error");
        skip "GET metrics answers $mst here (the metrics endpoint is not on"
             . " this branch yet): the figures shown cannot be compared with it", 11;
    }
    is($p->{errors}{figures}, '', "$name - figures loaded");
    my %want = (
        tickets => $m->{tickets}{total},
        csat => $m->{csat}{percent},
        loyalty => $m->{loyalty}{percent},
        ces => $m->{ces}{mean},
        firstResponseMedian => $m->{firstResponse}{medianSeconds},
        firstResponseP90 => $m->{firstResponse}{p90Seconds},
        resolutionMedian => $m->{resolution}{medianSeconds},
        resolutionP90 => $m->{resolution}{p90Seconds},
        autoResolution => $m->{autoResolution}{rate},
    );
    is_deeply([ sort keys %{ $p->{figures} } ], [ sort keys %want ],
              "$name - every figure is shown");
    for my $k (sort keys %want) {
        ok(main::shows($p->{figures}{$k}, $want{$k}),
           "$name - $k shown is GET metrics' "
           . ($want{$k} // 'null'))
            or diag(explain($p->{figures}{$k}));
    }
    is($p->{figures}{tickets}{shown}, 3, "$name - three tickets in all");
}

my ($tst, $tr) = api(GET => 'trends?from=' . (time() * 1000 - 3600e3)
                . '&to=' . time() * 1000 . '&bucket=hour', $main::Admin);
SKIP: {
    if ($tst != 200) {
        like($p->{errors}{trends},
             qr/^Error: Loading the trends \(GET trends\) failed: \Q$tst\E /,
             "$name - GET trends answers $tst: the page shows that error");
        skip "GET trends answers $tst here (the trends endpoint is not on this branch yet)", 3;
    }
    is($p->{errors}{trends}, '', "$name - trends loaded");
    is_deeply([ sort map { $_->{category} } @{ $p->{trends} } ],
              [ sort @{ $tr->{categories} } ], "$name - a chart per category of GET trends");
    ok((grep { $_->{category} eq 'billing' } @{ $p->{trends} })
       && (grep { $_->{category} eq 'shipping' } @{ $p->{trends} }),
       "$name - billing's and shipping's among them");
    ok(!grep({ !$_->{label} || !$_->{bars} } @{ $p->{trends} }),
       "$name - each chart has bars and is named by its caption");
}

my ($ist, $i) = api(GET => 'insights', $main::Admin);
SKIP: {
    if ($ist != 200) {
        like($p->{errors}{insights},
             qr/^Error: Loading the insights \(GET insights\) failed: \Q$ist\E /,
             "$name - GET insights answers $ist: the page shows that error");
        skip "GET insights answers $ist here (the insights endpoint is not on this branch yet)", 1;
    }
    is($p->{errors}{insights}, '', "$name - insights loaded");
    is(scalar @{ $p->{insights} }, scalar @{ $i->{insights} },
       "$name - every insight shown");
}
ok(-s "$main::Shots/admin.png" && -s "$main::Shots/agent.png",
   "$name - screenshots in build/page/");
