# set_cs_pseudonym $out $in (an ngx_devel_kit set_var directive): $out is
# the HMAC-SHA256 of "pseudonym:" $in under cs_secret, its first 16 bytes
# in base64url without padding.  Every value is checked against the same
# computation made here with Digest::SHA, from the secret file's bytes.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;

use Digest::SHA qw(hmac_sha256);
use File::Temp qw(tempdir);
use MIME::Base64 qw(encode_base64);

no_shuffle();

redis_start();

# two secrets: the documented form (openssl rand -hex 32: hex and a final
# newline that is not part of the secret), and printable bytes without one
my $dir = tempdir('cs-pseudonym-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @hex = ('0' .. '9', 'a' .. 'f');
my %secret = (
    TEST_NGINX_CS_SECRET => join('', map { $hex[rand @hex] } 1 .. 64) . "\n",
    TEST_NGINX_CS_SECRET2 => join('', map { chr(33 + rand 94) } 1 .. 48),
);
for my $name (keys %secret) {
    my $file = "$dir/$name";
    open my $fh, '>', $file or die "$file: $!";
    print $fh $secret{$name};
    close $fh;
    $ENV{$name} = $file;
}

# the pseudonym of $in under the secret in $file, computed independently
sub pseudonym {
    my ($file, $in) = @_;
    open my $fh, '<:raw', $file or die "$file: $!";
    my $key = do { local $/; <$fh> };
    $key =~ s/\r?\n\z//;
    my $b64 = encode_base64(substr(hmac_sha256("pseudonym:$in", $key), 0, 16),
                            '');
    $b64 =~ tr{+/}{-_};
    $b64 =~ s/=+\z//;
    return $b64;
}

# the ticket filed in the access-log test is in Redis
add_response_body_check(sub {
    my ($block) = @_;
    return unless $block->name =~ /access log/;
    my $t = ticket(1);
    is($t->{userId}, 'u-anon', $block->name . ' - the ticket is in Redis');
});

flush_redis();

run_tests();

__DATA__

=== TEST 1: a pseudonym is the HMAC-SHA256 of "pseudonym:" and the value under cs_secret, 16 bytes in base64url
--- config
cs_secret $TEST_NGINX_CS_SECRET;
location = /p {
    set_cs_pseudonym $p $arg_in;
    return 200 "$p\n";
}
--- request
GET /p?in=alice-7f3a
--- response_body eval
main::pseudonym($ENV{TEST_NGINX_CS_SECRET}, 'alice-7f3a') . "\n"
--- no_error_log
[error]



=== TEST 2: the same value gives the same pseudonym on every request
--- config
cs_secret $TEST_NGINX_CS_SECRET;
location = /p {
    set_cs_pseudonym $p $arg_in;
    return 200 "$p\n";
}
--- request eval
["GET /p?in=10.1.2.3", "GET /p?in=10.1.2.3", "GET /p?in=10.1.2.3"]
--- response_body eval
[(main::pseudonym($ENV{TEST_NGINX_CS_SECRET}, '10.1.2.3') . "\n") x 3]



=== TEST 3: a pseudonym is 22 characters of [A-Za-z0-9_-], never the value itself
--- config
cs_secret $TEST_NGINX_CS_SECRET;
location = /p {
    set_cs_pseudonym $p $arg_in;
    return 200 "$p\n";
}
--- request
GET /p?in=AAAAAAAAAAAAAAAAAAAAAA
--- response_body_like eval
qr/\A(?!AAAAAAAAAAAAAAAAAAAAAA)[A-Za-z0-9_-]{22}\n\z/



=== TEST 4: values that differ by one byte give different pseudonyms
--- config
cs_secret $TEST_NGINX_CS_SECRET;
location = /two {
    set_cs_pseudonym $a $arg_a;
    set_cs_pseudonym $b $arg_b;
    return 200 "$a $b\n";
}
--- request
GET /two?a=alice-7f3a&b=alice-7f3b
--- response_body_like eval
qr/\A([A-Za-z0-9_-]{22}) (?!\1)[A-Za-z0-9_-]{22}\n\z/



=== TEST 5: another cs_secret gives another pseudonym (server level and location level)
--- config
cs_secret $TEST_NGINX_CS_SECRET;
set_cs_pseudonym $p1 $arg_in;
location = /p2 {
    cs_secret $TEST_NGINX_CS_SECRET2;
    set_cs_pseudonym $p2 $arg_in;
    return 200 "$p1 $p2\n";
}
--- request
GET /p2?in=alice-7f3a
--- response_body eval
main::pseudonym($ENV{TEST_NGINX_CS_SECRET}, 'alice-7f3a') . " "
. main::pseudonym($ENV{TEST_NGINX_CS_SECRET2}, 'alice-7f3a') . "\n"



=== TEST 6: in "if" blocks of a server and of a location, like set
--- config
cs_secret $TEST_NGINX_CS_SECRET;
if ($arg_s) {
    set_cs_pseudonym $ps $arg_s;
}
location = /if {
    if ($arg_l) {
        set_cs_pseudonym $pl $arg_l;
        return 200 "$ps $pl\n";
    }
    return 404;
}
--- request
GET /if?s=server-value&l=location-value
--- response_body eval
main::pseudonym($ENV{TEST_NGINX_CS_SECRET}, 'server-value') . " "
. main::pseudonym($ENV{TEST_NGINX_CS_SECRET}, 'location-value') . "\n"



=== TEST 7: cs_secret may follow set_cs_pseudonym in its block
--- config
location = /p {
    set_cs_pseudonym $p $arg_in;
    return 200 "$p\n";
    cs_secret $TEST_NGINX_CS_SECRET2;
}
--- request
GET /p?in=alice-7f3a
--- response_body eval
main::pseudonym($ENV{TEST_NGINX_CS_SECRET2}, 'alice-7f3a') . "\n"



=== TEST 8: an empty value stays empty, never the pseudonym of nothing
--- config
cs_secret $TEST_NGINX_CS_SECRET;
location = /p {
    set_cs_pseudonym $p $arg_in;
    return 200 "[$p]\n";
}
--- request
GET /p
--- response_body
[]



=== TEST 9: a value longer than the HMAC's stack buffer
--- config
cs_secret $TEST_NGINX_CS_SECRET;
location = /p {
    set_cs_pseudonym $p $arg_in;
    return 200 "$p\n";
}
--- request eval
"GET /p?in=" . ("0123456789" x 100)
--- response_body eval
main::pseudonym($ENV{TEST_NGINX_CS_SECRET}, "0123456789" x 100) . "\n"



=== TEST 10: an access log line names the client by its pseudonym, not its address
--- http_config
log_format cs_anon '$cs_anon_ip "$request" $status';
--- config
cs_secret $TEST_NGINX_CS_SECRET;
set_cs_pseudonym $cs_anon_ip $remote_addr;
access_log logs/access.log cs_anon;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
--- more_headers
Content-Type: application/json
--- request
POST /api/service
{"userId":"u-anon","issue":"logged without my address"}
--- error_code: 201
--- response_body_like: "state":"assigned"
--- access_log eval
qr/^\Q${\ main::pseudonym($ENV{TEST_NGINX_CS_SECRET}, '127.0.0.1')}\E "POST \/api\/service HTTP\/1\.1" 201$/
--- no_access_log
127.0.0.1



=== TEST 11: nginx -t refuses set_cs_pseudonym where no cs_secret applies
--- config
location = /p {
    set_cs_pseudonym $p $arg_in;
    return 200 "$p\n";
}
--- must_die
--- error_log
"set_cs_pseudonym" needs "cs_secret"



=== TEST 12: a secret of a location does not serve the server's set_cs_pseudonym
--- config
set_cs_pseudonym $p $arg_in;
location = /p {
    cs_secret $TEST_NGINX_CS_SECRET;
    return 200 "$p\n";
}
--- must_die
--- error_log
"set_cs_pseudonym" needs "cs_secret"
