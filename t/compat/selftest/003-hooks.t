# Self-test of the compat runner: add_block_preprocessor,
# add_response_body_check, init, wait, timeout + abort, must_die,
# user_files, grep_error_log, a block reusing the previous config.
# Blocks depend on each other (TEST 2 on 1, TEST 8 on 7): no_shuffle().
# The runner's own tests: under the real Test::Nginx (prove -r t) they skip.
BEGIN {
    require Test::Nginx::Socket;
    if ($INC{'Test/Nginx/Socket.pm'} !~ m{compat/Test/Nginx/Socket\.pm$}) {
        print "1..0 # SKIP the compat runner's self-tests\n";
        exit 0;
    }
}
use Test::Nginx::Socket;
use IO::Socket::INET;
use Time::HiRes ();

# A listening socket that never answers: nginx proxies to it and hangs, so
# the client times out.  Opened here because --- config is written before
# --- init runs.
our $Hang = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
    or die "cannot listen: $!";
$ENV{TEST_NGINX_HANG_PORT} = $Hang->sockport;

our $BodyCheckedAt;

repeat_each(2);

# Default config for blocks without one (checked in TEST 1).
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->config && $block->name =~ /default config/) {
        $block->set_value('config', <<'_END_');
    location = /t {
        return 200 "default:$arg_a\n";
    }
_END_
    }
});

# A custom section: --- body_length N (one extra test per request).
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    $BodyCheckedAt = Time::HiRes::time();
    if (defined $block->body_length) {
        is(length($body // ''), $block->body_length,
           $block->name . " - body_length (req $repeated_req_idx)");
    }
    if (defined $block->elapsed_at_least) {
        cmp_ok($main::Elapsed, '>=', $block->elapsed_at_least,
               $block->name . " - previous block waited");
    }
});

our $Elapsed;

# 2 tests per repetition for blocks 1-3, 5, 7, 8 (status + body);
# TEST 1 +1 (body_length); TEST 2 +1 (error_log); TEST 4: 1 (no_error_log);
# TEST 5 +1 (grep); TEST 6: 2 (die + error_log); TEST 8 +1 (elapsed).
plan tests => repeat_each() * (2 * 6 + 1 + 1 + 1 + 1 + 2 + 1);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: default config from add_block_preprocessor, body check
--- request
GET /t?a=3
--- response_body
default:3
--- body_length: 10



=== TEST 2: no --- config: nginx keeps running with the previous one
--- request
GET /t?a=again
--- response_body
default:again
--- error_log
http args: "a=again"



=== TEST 3: init runs after nginx started (html/ already set up)
--- config
    location = /init.txt {
        root $TEST_NGINX_SERVER_ROOT/html;
    }
--- init
open my $fh, '>', Test::Nginx::Util::html_dir() . '/init.txt' or die $!;
print $fh "written by init\n";
close $fh;
--- request
GET /init.txt
--- response_body
written by init



=== TEST 4: client timeout with --- abort is not a failure
--- config
    location = /t {
        proxy_read_timeout 60s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_HANG_PORT;
    }
--- request
GET /t
--- timeout: 300ms
--- abort
--- ignore_response
--- no_error_log
[error]



=== TEST 5: user_files and grep_error_log
--- config
    location /files/ {
        alias $TEST_NGINX_SERVER_ROOT/html/;
    }
--- user_files
>>> a.txt
file a
>>> sub/b.txt
file b
--- request
GET /files/sub/b.txt
--- response_body
file b
--- grep_error_log eval: qr/http uri: "[^"]+"/
--- grep_error_log_out
http uri: "/files/sub/b.txt"



=== TEST 6: must_die
--- config
    location = /t {
        return this is not valid;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "return" directive/



=== TEST 7: wait happens after the response, before the next block
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- wait: 0.3
--- response_body
ok



=== TEST 8: (measures the wait of TEST 7)
--- config
    location = /t {
        return 200 "ok\n";
    }
--- init
$main::Elapsed = Time::HiRes::time() - $main::BodyCheckedAt;
--- request
GET /t
--- response_body
ok
--- elapsed_at_least: 0.3
