# Self-test of the compat runner: dynamic modules from TEST_NGINX_LOAD_MODULES
# (read when the runner is loaded, hence the BEGIN block), using Debian's
# echo module (package libnginx-mod-http-echo).
my $Echo;
BEGIN {
    $Echo = '/usr/lib/nginx/modules/ngx_http_echo_module.so';
    $ENV{TEST_NGINX_LOAD_MODULES} = $Echo;
}
# The runner's own tests: under the real Test::Nginx (prove -r t) they skip.
BEGIN {
    require Test::Nginx::Socket;
    if ($INC{'Test/Nginx/Socket.pm'} !~ m{compat/Test/Nginx/Socket\.pm$}) {
        print "1..0 # SKIP the compat runner's self-tests\n";
        exit 0;
    }
}

use Test::Nginx::Socket;

plan skip_all => "$Echo not installed" unless -f $Echo;

repeat_each(2);

# TEST 1 status + body + error_log, TEST 2: body + no_error_log (status
# ignored), TEST 3: status + body.
plan tests => repeat_each() * (3 + 1 + 2);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: echo module loaded, chunked response
--- config
    location = /t {
        echo "hello";
        echo_flush;
        echo "world";
    }
--- request
GET /t
--- response_body
hello
world
--- error_log eval
qr/http chunk: [1-9]/



=== TEST 2: echo_sleep makes the client time out; aborted
--- config
    location = /t {
        echo_sleep 2;
        echo "too late";
    }
--- request
GET /t
--- timeout: 0.2
--- abort
--- ignore_response
--- no_error_log
[error]



=== TEST 3: echo_sleep shorter than the client timeout
--- config
    location = /t {
        echo_sleep 0.2;
        echo "in time";
    }
--- request
GET /t
--- timeout: 2
--- response_body
in time
