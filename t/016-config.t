# The directives refuse bad values at `nginx -t`, in nginx's own words,
# not at the first request.  Each bad configuration differs from a good
# one (which must pass) by one line.
use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = grep { length } split /\s+/, $ENV{TEST_NGINX_LOAD_MODULES} // '';
plan skip_all => 'TEST_NGINX_LOAD_MODULES names no module' unless @modules;
my $prefix = tempdir('cs-config-XXXXXX', TMPDIR => 1,
                     CLEANUP => !$ENV{TEST_NGINX_NO_CLEAN});
mkdir "$prefix/logs";

# runs nginx -t on an http block made of $http (http level), $server (server
# level) and $location (inside location = /api/service); returns the exit
# status and what nginx printed
sub nginx_t {
    my (%c) = @_;
    my $conf = "$prefix/nginx.conf";
    open my $out, '>', $conf or die "$conf: $!";
    print $out join '', map { "load_module $_;\n" } @modules;
    print $out <<"CONF";
error_log $prefix/logs/error.log;
pid $prefix/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    @{[ $c{http} // '' ]}
    server {
        listen 127.0.0.1:1;
        @{[ $c{server} // '' ]}
        location = /api/service {
            cs_service;
            cs_redis_server @{[ $c{redis} // '127.0.0.1:6379' ]};
            @{[ $c{location} // '' ]}
        }
    }
}
CONF
    close $out;
    my $log = `'$nginx' -t -p '$prefix/' -c '$conf' -e '$prefix/logs/error.log' 2>&1`;
    return ($? >> 8, $log);
}

sub accepted {
    my ($what, %c) = @_;
    my ($rc, $log) = nginx_t(%c);
    is($rc, 0, "$what: nginx -t passes") or diag($log);
    like($log, qr/test is successful/, "$what: test is successful");
}

sub refused {
    my ($what, $message, %c) = @_;
    my ($rc, $log) = nginx_t(%c);
    isnt($rc, 0, "$what: nginx -t fails");
    like($log, qr/\[emerg\] \Q$message\E.* in \Q$prefix\E\/nginx\.conf:\d+/,
         "$what: says $message");
    like($log, qr/configuration file .* test failed/,
         "$what: test failed");
}

accepted('the base configuration');
accepted('every directive with a good value', location => <<'LOC');
cs_redis_user desk;
cs_redis_password secret;
cs_redis_database 3;
cs_redis_connect_timeout 500ms;
cs_redis_timeout 3s;
cs_key_prefix desk:;
cs_agents agent1 Agent.2 agent_3 agent-4;
cs_assign least_loaded;
cs_issue_max_length 16k;
cs_cors_origin https://app.example;
cs_cors_origin http://localhost:3000;
LOC
accepted('cs_cors_origin *', location => 'cs_cors_origin *;');
accepted('the directives at http and server level',
         http => 'cs_agents a b; cs_assign round_robin;',
         server => 'cs_key_prefix x:; cs_cors_origin https://a.example;');
accepted('a unix socket', redis => 'unix:/tmp/r.sock');
accepted('a host name', redis => 'localhost:6379');

# cs_redis_user
refused('cs_redis_user without cs_redis_password',
        '"cs_redis_user" needs "cs_redis_password"',
        location => 'cs_redis_user desk;');

# cs_agents
refused('an agent name with a space',
        'invalid value "agent 1" in "cs_agents" directive',
        location => 'cs_agents agent0 "agent 1";');
refused('an agent name with a colon',
        'invalid value "a:b" in "cs_agents" directive',
        location => 'cs_agents a:b;');
refused('an agent name with a slash',
        'invalid value "a/b" in "cs_agents" directive',
        location => 'cs_agents a/b;');
refused('an agent called ..',
        'invalid value ".." in "cs_agents" directive',
        location => 'cs_agents agent1 ..;');
refused('an agent called unassigned',
        'invalid value "unassigned" in "cs_agents" directive',
        location => 'cs_agents agent1 unassigned;');
refused('an empty agent name',
        'invalid value "" in "cs_agents" directive',
        location => 'cs_agents agent1 "";');
refused('an agent name over 64 characters',
        'invalid value "' . ('a' x 65) . '" in "cs_agents" directive',
        location => 'cs_agents ' . ('a' x 65) . ';');
accepted('an agent name of 64 characters',
         location => 'cs_agents ' . ('a' x 64) . ';');
refused('an agent named twice',
        'duplicate agent "agent1" in "cs_agents" directive',
        location => 'cs_agents agent1 agent2 agent1;');
refused('cs_agents twice at one level',
        '"cs_agents" directive is duplicate',
        location => 'cs_agents agent1; cs_agents agent2;');

# cs_assign: nginx's enum slot words it without the directive's name
refused('an unknown cs_assign',
        'invalid value "random"',
        location => 'cs_assign random;');

# cs_issue_max_length
refused('cs_issue_max_length 0',
        '"cs_issue_max_length" directive must be greater than zero',
        location => 'cs_issue_max_length 0;');
refused('cs_issue_max_length not a size',
        '"cs_issue_max_length" directive invalid value',
        location => 'cs_issue_max_length lots;');

# cs_cors_origin
for my $bad ('app.example', 'https://', 'ftp://app.example',
             'https://app.example/', 'https://app.example/path/',
             'https://a.example,https://b.example', '**')
{
    refused("cs_cors_origin $bad",
            "invalid value \"$bad\" in \"cs_cors_origin\" directive",
            location => "cs_cors_origin \"$bad\";");
}

# cs_service
refused('cs_service at server level',
        '"cs_service" directive is not allowed here',
        server => 'cs_service;');
refused('cs_service at http level',
        '"cs_service" directive is not allowed here',
        http => 'cs_service;');
refused('cs_service twice in a location',
        '"cs_service" directive is duplicate',
        location => 'cs_service;');
refused('cs_service with an argument',
        'invalid number of arguments in "cs_service" directive',
        server => 'location = /x { cs_service on; }');

# the connection
refused('cs_redis_database not a number',
        '"cs_redis_database" directive invalid number',
        location => 'cs_redis_database one;');
refused('cs_redis_database negative',
        '"cs_redis_database" directive invalid number',
        location => 'cs_redis_database -1;');
refused('cs_redis_connect_timeout 0',
        '"cs_redis_connect_timeout" directive must be greater than zero',
        location => 'cs_redis_connect_timeout 0;');
refused('cs_redis_timeout 0',
        '"cs_redis_timeout" directive must be greater than zero',
        location => 'cs_redis_timeout 0;');
refused('an empty cs_key_prefix',
        '"cs_key_prefix" directive must be 1 to 64 characters',
        location => 'cs_key_prefix "";');
refused('a cs_key_prefix with a space',
        '"cs_key_prefix" directive must be printable ASCII without spaces',
        location => 'cs_key_prefix "a b";');
refused('a cs_redis_server host that does not resolve',
        'host not found in cs_redis_server "nonexistent.invalid:6379"',
        redis => 'nonexistent.invalid:6379');
refused('a cs_redis_server with a bad port',
        'invalid port in cs_redis_server "127.0.0.1:99999"',
        redis => '127.0.0.1:99999');

done_testing();
