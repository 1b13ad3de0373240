# Self-test of the compat runner: master_on + workers(2), env_to_nginx,
# log_level, skip_nginx, --- SKIP.
# The runner's own tests: under the real Test::Nginx (prove -r t) they skip.
BEGIN {
    require Test::Nginx::Socket;
    if ($INC{'Test/Nginx/Socket.pm'} !~ m{compat/Test/Nginx/Socket\.pm$}) {
        print "1..0 # SKIP the compat runner's self-tests\n";
        exit 0;
    }
}
use Test::Nginx::Socket;

$ENV{CS_SELFTEST_VAR} = 'from-perl';

master_on();
workers(2);
log_level('info');
env_to_nginx('CS_SELFTEST_VAR', 'CS_SELFTEST_SET=inline value');
no_long_string();

# TEST 1: status + grep; TEST 2: status + body + error_log + no_error_log;
# TEST 3: 2 skipped; TEST 4 is skipped by Test::Base.
plan tests => repeat_each() * (2 + 4 + 2);

run_tests();

__DATA__

=== TEST 1: a master and two workers
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- grep_error_log eval: qr/start worker process(?= \d)/
--- grep_error_log_out
start worker process
start worker process



=== TEST 2: env_to_nginx lines, log_level applies (no debug lines)
--- main_config
    # the value is only visible to modules (perl, lua...), so just check
    # that the generated env lines are accepted
--- config
    location = /t {
        return 200 "pid $pid\n";
    }
--- request
GET /t
--- response_body_like: ^pid \d+$
--- error_log
[notice]
--- no_error_log
[debug]



=== TEST 3: skip_nginx (every nginx is newer than 0.0.1)
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
never checked
--- skip_nginx
2: > 0.0.1



=== TEST 4: skipped altogether
--- SKIP
--- config
    location = /t {
        return 500;
    }
--- request
GET /t
--- response_body
never sent
