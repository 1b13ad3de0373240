# cs_metrics: the desk's figures in Prometheus' text exposition format
# (0.0.4), parsed by Python's prometheus_client (Debian's
# python3-prometheus-client), must equal GET metrics; nginx's allow/deny
# protect the location; nginx -t refuses a cs_metrics that cannot work.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;

my $python = '/usr/bin/python3';

# the samples of a text, as prometheus_client's parser reads it:
# {families => [[name, type, help], ...], samples => [[name, {labels}, value], ...]}
my $parse = <<'PY';
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
fams, samples = [], []
for f in text_string_to_metric_families(sys.stdin.read()):
    fams.append([f.name, f.type, f.documentation])
    for s in f.samples:
        v = None if math.isnan(s.value) else s.value
        samples.append([s.name, s.labels, v])
print(json.dumps({"families": fams, "samples": samples}))
PY

sub prometheus_parse {
    my ($text) = @_;
    my $dir = tempdir(CLEANUP => 1);
    open my $fh, '>', "$dir/in" or die "$dir/in: $!";
    print $fh $text;
    close $fh;
    open $fh, '>', "$dir/parse.py" or die "$dir/parse.py: $!";
    print $fh $parse;
    close $fh;
    my $out = `'$python' '$dir/parse.py' < '$dir/in' 2>&1`;
    die "prometheus_client could not parse the text: $out\n" if $?;
    return decode_json($out);
}

# the format's rules that a lenient parser lets pass: every sample follows
# the # HELP and # TYPE of its family; a counter's name ends in _total; a
# histogram's samples are <name>_bucket (le ascending, cumulative, ending
# at +Inf), _sum and _count = the +Inf bucket; labels from bounded sets
sub strict_problems {
    my ($text) = @_;
    my (@p, %type, $family, $help, @le);
    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP (\S+) \S/) {
            $help = $1;
        } elsif ($line =~ /^# TYPE (\S+) (counter|gauge|histogram)$/) {
            my ($f, $t) = ($1, $2);
            push @p, "TYPE $f without its HELP first" unless ($help // '') eq $f;
            push @p, "$f defined twice" if $type{$f}++;
            push @p, "counter $f does not end in _total" if $t eq 'counter' && $f !~ /_total$/;
            push @p, "histogram $f is not in _seconds" if $t eq 'histogram' && $f !~ /_seconds$/;
            $family = [$f, $t];
            @le = ();
        } elsif ($line =~ /^([a-z_]+)(?:\{([a-z]+)="([^"]*)"\})? (\S+)$/) {
            my ($n, $label, $v, $x) = ($1, $2, $3, $4);
            my ($f, $t) = @{ $family // ['', ''] };
            if ($t eq 'histogram') {
                push @p, "$n is not of histogram $f" unless $n =~ /^\Q$f\E_(bucket|sum|count)$/;
                push @le, [$v, $x] if $n eq "${f}_bucket";
                if ($n eq "${f}_count") {
                    push @p, "$f: the last bucket is not +Inf" unless @le && $le[-1][0] eq '+Inf';
                    push @p, "$f: _count $x is not the +Inf bucket" unless @le && $le[-1][1] == $x;
                    for my $i (1 .. $#le) {
                        push @p, "$f: buckets not cumulative at le=$le[$i][0]" if $le[$i][1] < $le[$i - 1][1];
                        push @p, "$f: le not ascending at $le[$i][0]"
                            if $le[$i][0] ne '+Inf' && $le[$i][0] <= $le[$i - 1][0];
                    }
                }
            } else {
                push @p, "$n is not of family $f" unless $n eq $f;
            }
            push @p, "$n: label $label is not from a bounded set"
                if defined $label && $label !~ /^(state|channel|priority|category|agent|rule|le)$/;
            push @p, "$n: value $x" unless $x =~ /^(-?[0-9.]+(e[+-]?[0-9]+)?|NaN)$/;
        } else {
            push @p, "a line the format does not know: $line";
        }
    }
    return @p;
}

sub scrape {
    my ($path, $method) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    return HTTP::Tiny->new(timeout => 10)->request($method // 'GET', "http://127.0.0.1:$port$path");
}

# the samples by name and label value ('' for none)
sub by_name {
    my ($parsed) = @_;
    my %s;
    for my $x (@{ $parsed->{samples} }) {
        my ($n, $l, $v) = @$x;
        my ($lv) = map { $l->{$_} } grep { $_ ne 'le' } keys %$l;
        $lv = $l->{le} if exists $l->{le};
        $s{$n}{ $lv // '' } = $v;
    }
    return \%s;
}

# nginx -t on this server block's lines; (status, output)
my @modules = grep { length } split /\s+/, $ENV{TEST_NGINX_LOAD_MODULES} // '';
my $conf_dir = tempdir('cs-metrics-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$conf_dir/logs";

sub nginx_t {
    my ($server) = @_;
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    open my $out, '>', "$conf_dir/nginx.conf" or die $!;
    print $out join '', map { "load_module $_;\n" } @modules;
    print $out "error_log $conf_dir/logs/error.log;\npid $conf_dir/logs/nginx.pid;\n"
        . "events { worker_connections 64; }\nhttp {\n    access_log off;\n"
        . "    server {\n        listen 127.0.0.1:1;\n        $server\n    }\n}\n";
    close $out;
    my $log = `'$nginx' -t -p '$conf_dir/' -c '$conf_dir/nginx.conf' -e '$conf_dir/logs/error.log' 2>&1`;
    return ($? >> 8, $log);
}

{
    my ($rc, $log) = nginx_t('location /metrics { cs_metrics; allow 127.0.0.1; deny all; }');
    is($rc, 0, 'nginx -t: cs_metrics in a location of its own, with no cs_secret') or diag($log);
    for my $bad (['location /m { cs_metrics on; }', qr/invalid number of arguments in "cs_metrics"/, 'cs_metrics takes no argument'],
                 ['location /m { cs_metrics; cs_metrics; }', qr/"cs_metrics" directive is duplicate/, 'cs_metrics twice'],
                 ["location /m { cs_api; cs_secret $conf_dir/nginx.conf; cs_metrics; }",
                  qr/"cs_metrics" in a location that has cs_service or cs_api/, 'cs_metrics beside cs_api'],
                 ['location /m { cs_metrics; cs_service; }', qr/"cs_service" in a location that has another of/,
                  'cs_service beside cs_metrics'],
                 ['cs_metrics;', qr/"cs_metrics" directive is not allowed here/, 'cs_metrics outside a location'])
    {
        my ($rc, $log) = nginx_t($bad->[0]);
        isnt($rc, 0, "nginx -t refuses $bad->[2]");
        like($log, $bad->[1], "$bad->[2]: the message says why");
    }
}

redis_start();

our $Admin = $CsApi::Admin;

check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();') unless defined $block->init;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_rule faq "(?i)password" "Reset it at https://example.com/reset" account;
}
location = /metrics {
    cs_metrics;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    allow 127.0.0.1;
    deny all;
}
location = /metrics-closed {
    cs_metrics;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    allow 192.0.2.1;
    deny all;
}
location = /metrics-other-desk {
    cs_metrics;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_key_prefix other:;
}
CONF
    $block->set_value('request', "GET /api/me\n") unless defined $block->request;
    $block->set_value('more_headers', "Authorization: Bearer $main::Admin")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: the text parses with prometheus_client, follows the format's rules, and every value equals GET metrics
--- stored
my $alice = new_agent('alice', 5);
my $bob = new_agent('bob', 2);
my @t = map { intake("p-$_", channel => ($_ % 2 ? 'web' : 'email'), category => ($_ % 3 ? 'billing' : 'shipping'),
                     priority => ($_ % 4 ? 'normal' : 'high')) } 1 .. 6;
my @auto = map { intake("p-$_", issue => 'lost my password') } 1 .. 3;
CsTest::redis()->hset("cs:ticket:$t[0]{ticketId}", 'createdAt', CsTest::redis()->hget("cs:ticket:$t[0]{ticketId}", 'createdAt') - 100_000);
for my $t (@t[0 .. 3]) {
    my $agent = CsTest::redis()->hget("cs:ticket:$t->{ticketId}", 'agent');
    my $tok = $agent eq 'alice' ? $alice : $bob;
    api(POST => "tickets/$t->{ticketId}/messages", $tok, '{"body":"hello"}');
    api(POST => "tickets/$t->{ticketId}/status", $tok, '{"state":"solved"}');
    api(POST => "tickets/$t->{ticketId}/feedback", $t->{token}, '{"csat":' . (2 + $t->{ticketId} % 4) . ',"ces":5}');
}
api(POST => "tickets/$auto[0]{ticketId}/feedback", $auto[0]{token}, '{"csat":5}');
api(POST => "tickets/$auto[1]{ticketId}/messages", $auto[1]{token}, '{"body":"no good"}');

my (undef, $m) = admin(GET => 'metrics');
my $res = main::scrape('/metrics');
is($res->{status}, 200, "$name - 200");
is($res->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', "$name - the format's content type");
my $text = $res->{content};
is_deeply([main::strict_problems($text)], [], "$name - the format's rules hold");
my $p = main::prometheus_parse($text);
my %types = map { $_->[0] => $_->[1] } @{ $p->{families} };
is($types{cs_tickets_created}, 'counter', "$name - a counter family (its samples end in _total)");
is($types{cs_first_response_seconds}, 'histogram', "$name - a histogram");
ok(!(grep { !length $_->[2] } @{ $p->{families} }), "$name - every family has its HELP");
my $s = main::by_name($p);

is_deeply($s->{cs_tickets}, $m->{tickets}{byState}, "$name - cs_tickets{state}: byState");
is($s->{cs_tickets_created_total}{''}, $m->{tickets}{total}, "$name - cs_tickets_created_total: total");
is($m->{tickets}{total}, 9, "$name - (nine tickets)");
is_deeply($s->{cs_tickets_created_by_channel_total}, $m->{tickets}{byChannel}, "$name - by channel");
is_deeply($s->{cs_tickets_created_by_priority_total}, $m->{tickets}{byPriority}, "$name - by priority");
is_deeply($s->{cs_tickets_created_by_category_total}, $m->{tickets}{byCategory}, "$name - by category");
is($s->{cs_csat_ratings_total}{''}, $m->{csat}{ratings}, "$name - csat ratings");
is($s->{cs_csat_satisfied_ratings}{''}, $m->{csat}{satisfied}, "$name - csat satisfied");
is($s->{cs_csat_percent}{''}, $m->{csat}{percent}, "$name - CSAT %");
is($s->{cs_customers_total}{''}, $m->{loyalty}{customers}, "$name - customers");
is($s->{cs_customers_repeat_total}{''}, $m->{loyalty}{repeat}, "$name - repeat customers");
is($s->{cs_loyalty_percent}{''}, $m->{loyalty}{percent}, "$name - loyalty %");
is($s->{cs_ces_ratings}{''}, $m->{ces}{ratings}, "$name - ces ratings");
is($s->{cs_ces_sum}{''}, $m->{ces}{sum}, "$name - ces sum");
is($s->{cs_ces_mean}{''}, $m->{ces}{mean}, "$name - CES");
is($s->{cs_tickets_auto_resolved_total}{''}, $m->{autoResolution}{autoResolved}, "$name - auto-resolved");
is($s->{cs_tickets_auto_reopened_total}{''}, $m->{autoResolution}{reopened}, "$name - auto-resolved, reopened");
is($s->{cs_auto_resolution_percent}{''}, $m->{autoResolution}{rate}, "$name - auto-resolution %");
is($m->{autoResolution}{reopened}, 1, "$name - (one reopened)");
for my $h (['cs_first_response_seconds', 'firstResponse'], ['cs_resolution_seconds', 'resolution']) {
    my ($pn, $jn) = @$h;
    my %b = map { ($_->{le} eq '+Inf' ? '+Inf' : $_->{le} + 0) => $_->{count} } @{ $m->{$jn}{buckets} };
    my %got = map { (($_ eq '+Inf' ? '+Inf' : $_ + 0) => $s->{"${pn}_bucket"}{$_}) } keys %{ $s->{"${pn}_bucket"} };
    is_deeply(\%got, \%b, "$name - $pn: the buckets");
    is($s->{"${pn}_count"}{''}, $m->{$jn}{count}, "$name - $pn: the count");
    ok(abs($s->{"${pn}_sum"}{''} - $m->{$jn}{sumSeconds}) < 0.001, "$name - $pn: the sum");
}
is($m->{firstResponse}{count}, 4, "$name - (four first responses)");
is($m->{resolution}{count}, 7, "$name - (four solves and three auto-resolved)");
my %load = map { $_->{name} => $_->{load} } @{ $m->{agents} };
my %cap = map { $_->{name} => $_->{capacity} } @{ $m->{agents} };
my %solved = map { $_->{name} => $_->{solved} } @{ $m->{agents} };
is_deeply($s->{cs_agent_load}, \%load, "$name - agents' load");
is_deeply($s->{cs_agent_capacity}, \%cap, "$name - agents' capacity");
is_deeply($s->{cs_agent_solved_total}, \%solved, "$name - agents' solves");
is($solved{alice} + $solved{bob}, 4, "$name - (four solves)");
is_deeply($s->{cs_rule_answered_total}, { map { $_->{rule} => $_->{answered} } @{ $m->{rules} } }, "$name - rules answered");
is_deeply($s->{cs_rule_reopened_total}, { map { $_->{rule} => $_->{reopened} } @{ $m->{rules} } }, "$name - rules reopened");
is($s->{cs_rule_answered_total}{faq}, 3, "$name - (faq answered three)");
invariants_hold($name, metrics => 1);



=== TEST 2: an empty desk: zeros, NaN for a ratio of nothing, every bucket there
--- stored
my $res = main::scrape('/metrics');
is($res->{status}, 200, "$name - 200");
is_deeply([main::strict_problems($res->{content})], [], "$name - the format's rules hold");
my $s = main::by_name(main::prometheus_parse($res->{content}));
is($s->{cs_csat_percent}{''}, undef, "$name - CSAT of no rating: NaN");
is($s->{cs_tickets_created_total}{''}, 0, "$name - no ticket");
is(scalar(keys %{ $s->{cs_first_response_seconds_bucket} }), 21, "$name - 20 bounds and +Inf");
is_deeply($s->{cs_tickets}, { map { $_ => 0 } qw(queued assigned pending solved closed auto_resolved) }, "$name - every state");



=== TEST 3: nginx protects the location: deny is 403 and says nothing of the figures; no token is asked where allow lets in
--- stored
intake('guarded');
my $res = main::scrape('/metrics-closed');
is($res->{status}, 403, "$name - denied: 403");
unlike($res->{content}, qr/cs_tickets/, "$name - no figure in the refusal");
$res = main::scrape('/metrics');
is($res->{status}, 200, "$name - allowed, without a token: 200");
like($res->{content}, qr/^cs_tickets_created_total 1$/m, "$name - the ticket counted");



=== TEST 4: only GET and HEAD; the location reads the desk of its own cs_key_prefix
--- stored
intake('one');
my $res = main::scrape('/metrics', 'POST');
is($res->{status}, 405, "$name - POST: 405");
is($res->{headers}{allow}, 'GET, HEAD', "$name - Allow");
$res = main::scrape('/metrics', 'HEAD');
is($res->{status}, 200, "$name - HEAD: 200");
ok(!length($res->{content} // ''), "$name - HEAD: no body");
$res = main::scrape('/metrics-other-desk');
like($res->{content}, qr/^cs_tickets_created_total 0$/m, "$name - another prefix, another desk");
