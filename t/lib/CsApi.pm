package CsApi;

# Shared by the desk API's tests: a cs_secret and an admin key made for the
# test file (exported to the configs as $TEST_NGINX_CS_SECRET and
# $TEST_NGINX_CS_ADMIN_KEYS), and calls to the API below /api/ of the
# test's nginx, each answering (status, decoded JSON body).

use strict;
use warnings;

use Exporter 'import';
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use CsTest ();

our @EXPORT = qw(api admin intake agents_by_name new_agent store
                 invariants_hold desk_blocks);

my $dir = tempdir(CLEANUP => 1);

open my $s, '>', "$dir/cs.secret" or die;
print $s join('', map { sprintf '%02x', int rand 256 } 1 .. 32), "\n";
close $s;

# the admin's key, named root
our $Admin = 'admin-key-' . int(rand(1e9));
open my $k, '>', "$dir/admin.keys" or die;
print $k 'root ' . sha256_hex($Admin) . "\n";
close $k;

$ENV{TEST_NGINX_CS_SECRET} = "$dir/cs.secret";
$ENV{TEST_NGINX_CS_ADMIN_KEYS} = "$dir/admin.keys";

# headers every call sends (a test of auth_request sets its pass here)
our %Headers;

sub api {
    my ($method, $path, $token, $body, $headers) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    my $res = HTTP::Tiny->new(timeout => CsTest::valgrind() ? 30 : 10)
        ->request($method, "http://127.0.0.1:$port/api/$path",
                  { headers => { ($token ? (Authorization => "Bearer $token")
                                         : ()),
                                 'Content-Type' => 'application/json',
                                 %Headers, %{ $headers || {} } },
                    defined $body ? (content => $body) : () });
    my $json = eval { JSON::PP->new->utf8->decode($res->{content}) };
    return ($res->{status}, $json // $res->{content});
}

sub admin { return api($_[0], $_[1], $Admin, $_[2]) }

# a ticket from this user, its answer (with the customer's token)
sub intake {
    my ($user, %f) = @_;
    my $body = JSON::PP->new->canonical->encode(
        { userId => $user, issue => "help $user", %f });
    my (undef, $b) = api(POST => 'service', undef, $body);
    return $b;
}

sub agents_by_name {
    my (undef, $b) = admin(GET => 'agents?limit=100');
    return { map { $_->{name} => $_ } @{ $b->{agents} || [] } };
}

# an agent with this capacity, online unless said; its token
sub new_agent {
    my ($name, $capacity, $status) = @_;
    my ($st, $b) = admin(PUT => "agents/$name", qq({"capacity":$capacity}));
    die "PUT agents/$name: $st\n" unless $st == 201;
    my ($pst) = api(PUT => "agents/$name/presence", $b->{token},
                    '{"status":"' . ($status // 'online') . '"}');
    die "presence of $name: $pst\n" unless $pst == 200;
    return $b->{token};
}

# everything the test's Redis holds, as one string: a write anywhere shows;
# but the sweep's lock, which a timer takes whatever the requests do
sub store {
    my $r = CsTest::redis();
    my @out;
    for my $key (sort grep { !/^cs:lock:/ } $r->keys('*')) {
        my $type = $r->type($key);
        my $v;
        if ($type eq 'string') {
            $v = $r->get($key);
        } elsif ($type eq 'hash') {
            my %h = $r->hgetall($key);
            $v = join ',', map { "$_=$h{$_}" } sort keys %h;
        } elsif ($type eq 'list') {
            $v = join ',', $r->lrange($key, 0, -1);
        } elsif ($type eq 'set') {
            $v = join ',', sort $r->smembers($key);
        } elsif ($type eq 'zset') {
            $v = join ',', $r->zrange($key, 0, -1, 'WITHSCORES');
        } elsif ($type eq 'stream') {
            $v = join ';', map { $_->[0] } @{ [ $r->xrange($key, '-', '+') ] };
        }
        push @out, "$key ($type): " . ($v // '');
    }
    return join "\n", @out;
}

# chaos/desk.pl, the store's invariant checker, on the test's Redis: a
# test, one; metrics => 1: the figures too (a store the scripts alone
# made, see chaos/DeskCheck.pm)
sub invariants_hold {
    my ($name, %o) = @_;
    my $root = __FILE__ =~ s{t/lib/CsApi\.pm$}{}r;
    my $flags = $o{metrics} ? ' --metrics' : '';
    my $out = `perl ${root}chaos/desk.pl --redis $ENV{TEST_NGINX_REDIS_PORT} --prefix cs:$flags 2>&1`;
    Test::More::is($? >> 8, 0, "$name - every invariant of the store holds")
        or Test::More::diag($out);
}

# the desk tests' blocks: a flushed Redis, a cs_api location at /api/ with
# this file's secret and admin key (plus the lines given), and a GET me by
# the admin, unless a block says otherwise; its --- stored does the work
sub desk_blocks {
    my ($lines) = @_;
    my $config = "location /api/ {\n    cs_api;\n"
        . "    cs_secret \$TEST_NGINX_CS_SECRET;\n"
        . "    cs_admin_keys \$TEST_NGINX_CS_ADMIN_KEYS;\n"
        . "    cs_redis_server 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n"
        . join('', map { "    $_\n" } @{ $lines || [] }) . "}\n";
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        $block->set_value('init', 'CsTest::flush_redis();')
            unless defined $block->init;
        $block->set_value('config', $config) unless defined $block->config;
        $block->set_value('request', "GET /api/me\n")
            unless defined $block->request;
        $block->set_value('more_headers', "Authorization: Bearer $Admin")
            unless defined $block->more_headers;
    });
}

1;
