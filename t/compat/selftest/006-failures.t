# Self-test of the compat runner's failure paths, which cannot be tested
# in-process: small .t files are run in child perls and their TAP output is
# inspected.  Also checks the generated nginx.conf.
# The runner's own tests: under the real Test::Nginx (prove -r t) they skip.
BEGIN {
    require Test::Nginx::Socket;
    if ($INC{'Test/Nginx/Socket.pm'} !~ m{compat/Test/Nginx/Socket\.pm$}) {
        print "1..0 # SKIP the compat runner's self-tests\n";
        exit 0;
    }
}
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Basename qw(dirname);
use File::Spec;

my $compat = File::Spec->rel2abs(dirname(__FILE__) . '/..');
my $tmp = tempdir(CLEANUP => 1);

# Runs $code (a .t file body) in a child perl; returns its stdout+stderr.
sub run_child {
    my ($file, $code, %env) = @_;
    my $path = "$tmp/$file";
    open my $out, '>', $path or die "$path: $!";
    print $out $code;
    close $out;
    local $ENV{TEST_NGINX_SERVROOT} = "$tmp/servroot";
    local $ENV{TEST_NGINX_NO_SHUFFLE} = 1;
    # the expectations below are for the normal (non-valgrind) mode
    local $ENV{TEST_NGINX_USE_VALGRIND};
    delete $ENV{TEST_NGINX_USE_VALGRIND};
    local @ENV{keys %env} = values %env;
    return scalar `$^X -I$compat $path 2>&1`;
}

my $out = run_child('timeout.t', <<'_EOT_');
use Test::Nginx::Socket;
plan tests => 3;
run_tests();
__DATA__
=== TEST 1: hangs
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sub;
    }
    location = /sub {
        return 200 "never, the body is incomplete";
    }
--- raw_request eval
"POST /t HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nab"
--- timeout: 200ms
--- response_body
x
_EOT_
like($out, qr/^not ok 1 - ERROR: client socket timed out - \S+timeout\.t TEST 1: hangs$/m,
     'timeout without --- abort fails');
like($out, qr/^not ok 2 - \S+ TEST 1: hangs - status code ok$/m,
     'status check still runs after a timeout');
like($out, qr/^not ok 3 - \S+ TEST 1: hangs - response_body - response is expected \(repeated req 0, req 0\)$/m,
     'response_body check name');

$out = run_child('undef-env.t', <<'_EOT_');
use Test::Nginx::Socket;
plan tests => 2;
run_tests();
__DATA__
=== TEST 1: undefined variable
--- config
    location = /t { return 200 "$TEST_NGINX_SURELY_UNDEFINED_VAR"; }
--- request
GET /t
--- response_body
_EOT_
like($out, qr/^Bail out!\s+\S+ TEST 1: undefined variable - No environment TEST_NGINX_SURELY_UNDEFINED_VAR defined\.$/m,
     'an undefined $TEST_NGINX_ variable bails out');

$out = run_child('logs.t', <<'_EOT_');
use Test::Nginx::Socket;
plan tests => 4;
run_tests();
__DATA__
=== TEST 1: log failures
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
--- error_log
no line says this
--- no_error_log
http finalize request
_EOT_
like($out, qr/^ok 1 - \S+logs\.t TEST 1: log failures - status code ok$/m,
     'status check name');
like($out, qr/^not ok 3 - \S+ TEST 1: log failures - pattern "no line says this" should match a line in error\.log \(req 0\)$/m,
     'error_log failure name');
like($out, qr/^not ok 4 - \S+ TEST 1: log failures - pattern "http finalize request" should not match any line in error\.log but matches line ".*http finalize request/m,
     'no_error_log failure name');

$out = run_child('conf.t', <<'_EOT_', TEST_NGINX_LOAD_MODULES => '/nonexistent/a.so /nonexistent/b.so');
use Test::Nginx::Socket;
plan tests => 2;
run_tests();
__DATA__
=== TEST 1: cannot start
--- main_config
worker_rlimit_nofile 1024;
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
_EOT_
# With non-existent modules nginx cannot start, but the config is written.
like($out, qr/^Bail out!\s+\S+ TEST 1: cannot start - Cannot start nginx/m,
     'nginx start failure bails out');
open my $in, '<', "$tmp/servroot/conf/nginx.conf" or die $!;
my $conf = do { local $/; <$in> };
like($conf, qr/\Aworker_processes  1;\ndaemon on;\nmaster_process off;\nerror_log \S+\/logs\/error\.log debug;\npid       \S+\/logs\/nginx\.pid;\n/,
     'nginx.conf head as in the real one');
like($conf, qr/^load_module \/nonexistent\/a\.so; load_module \/nonexistent\/b\.so; worker_rlimit_nofile 1024;$/m,
     'load_module lines, in order, before main_config');
like($conf, qr/^events \{\n    accept_mutex off;\n\n    worker_connections  64;\n\}$/m, 'events block');
like($conf, qr/^user root;$/m, 'user root when run as root') if $> == 0;

done_testing();
