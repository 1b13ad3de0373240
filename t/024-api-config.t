# The desk's directives refuse what cannot work at `nginx -t`, with a
# message that names the directive or the file, never the secret itself.
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use Test::More;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = grep { length } split /\s+/, $ENV{TEST_NGINX_LOAD_MODULES} // '';
plan skip_all => 'TEST_NGINX_LOAD_MODULES names no module' unless @modules;
my $prefix = tempdir('cs-api-config-XXXXXX', TMPDIR => 1,
                     CLEANUP => !$ENV{TEST_NGINX_NO_CLEAN});
mkdir "$prefix/logs";

sub write_file {
    my ($name, $text, $mode) = @_;
    open my $fh, '>', "$prefix/$name" or die "$name: $!";
    print $fh $text;
    close $fh;
    chmod $mode, "$prefix/$name" if defined $mode;
    return "$prefix/$name";
}

my $secret_text = 'f' x 64;
my $secret = write_file('cs.secret', "$secret_text\n");
my $short = write_file('short.secret', ('a' x 31) . "\n");
my $keys = write_file('admin.keys', "alice " . sha256_hex('k1') . "\n"
                                    . sha256_hex('k2') . "\n");

# nginx -t on a cs_api location with these lines; (status, output)
sub nginx_t {
    my ($location) = @_;
    my $conf = "$prefix/nginx.conf";
    open my $out, '>', $conf or die "$conf: $!";
    print $out join '', map { "load_module $_;\n" } @modules;
    print $out <<"CONF";
error_log $prefix/logs/error.log;
pid $prefix/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:1;
        $location
    }
}
CONF
    close $out;
    my $log = `'$nginx' -t -p '$prefix/' -c '$conf' -e '$prefix/logs/error.log' 2>&1`;
    return ($? >> 8, $log);
}

sub accepted {
    my ($what, $location) = @_;
    my ($rc, $log) = nginx_t($location);
    is($rc, 0, "$what: nginx -t passes") or diag($log);
}

sub refused {
    my ($what, $message, $location) = @_;
    my ($rc, $log) = nginx_t($location);
    isnt($rc, 0, "$what: nginx -t fails");
    like($log, qr/\[emerg\] .*\Q$message\E/, "$what: says $message")
        or diag($log);
    unlike($log, qr/\Q$secret_text\E|ffffffff/, "$what: no secret in the message");
}

accepted('cs_api with cs_secret and cs_admin_keys',
         "location /api/ { cs_api; cs_secret $secret; cs_admin_keys $keys; }");
accepted('cs_secret at server level, inherited',
         "cs_secret $secret; location /api/ { cs_api; }");
accepted('an old secret beside the current one',
         "location /api/ { cs_api; cs_secret $secret $secret; }");

accepted('cs_api in a prefix location without the final slash',
         "location /api { cs_api; cs_secret $secret; }");
refused('cs_api in an exact location', 'routes the paths below a prefix',
        "location = /api/ { cs_api; cs_secret $secret; }");
refused('cs_api in a regex location', 'routes the paths below a prefix',
        "location ~ ^/api/ { cs_api; cs_secret $secret; }");
refused('cs_api without cs_secret', '"cs_api" needs "cs_secret"',
        'location /api/ { cs_api; }');
refused('a secret file that is missing', 'cs_secret file',
        "location /api/ { cs_api; cs_secret $prefix/nothing; }");
refused('a secret under 32 bytes', 'holds 31 bytes; it needs at least 32',
        "location /api/ { cs_api; cs_secret $short; }");
refused('an old secret under 32 bytes', 'holds 31 bytes',
        "location /api/ { cs_api; cs_secret $secret $short; }");
refused('cs_api and cs_service in one location',
        'in a location that has another of cs_service, cs_api and cs_metrics',
        "location /api/ { cs_service; cs_api; cs_secret $secret; }");
refused('cs_api twice', '"cs_api" directive is duplicate',
        "location /api/ { cs_api; cs_api; cs_secret $secret; }");

my @bad_keys = (
    [ 'a line of 63 hex', sha256_hex('x') =~ s/.$//r ],
    [ 'a line that is not hex', 'z' x 64 ],
    [ 'a name with a space inside', 'bob smith ' . sha256_hex('x') ],
);
for my $b (@bad_keys) {
    my $f = write_file('bad.keys', "$b->[1]\n");
    refused("cs_admin_keys with $b->[0]", 'cs_admin_keys file',
            "location /api/ { cs_api; cs_secret $secret; cs_admin_keys $f; }");
}

SKIP: {
    skip 'root reads any file', 3 if $> == 0;
    my $f = write_file('unreadable.secret', "$secret_text\n", 0);
    refused('a secret file that cannot be read', 'cs_secret file',
            "location /api/ { cs_api; cs_secret $f; }");
}

# cs_close_after: a time, more than zero
accepted('cs_close_after at http level and in the location',
         "cs_close_after 4d; location /api/ { cs_api; cs_secret $secret; "
         . "cs_close_after 90m; }");
refused('cs_close_after 0', '"cs_close_after" directive must be greater than zero',
        "location /api/ { cs_api; cs_secret $secret; cs_close_after 0; }");
refused('cs_close_after without a time', 'invalid value',
        "location /api/ { cs_api; cs_secret $secret; cs_close_after soon; }");

# cs_reassign_after: a time, more than zero
accepted('cs_reassign_after at http level and in the location',
         "cs_reassign_after 5m; location /api/ { cs_api; cs_secret $secret; "
         . "cs_reassign_after 30s; }");
refused('cs_reassign_after 0',
        '"cs_reassign_after" directive must be greater than zero',
        "location /api/ { cs_api; cs_secret $secret; cs_reassign_after 0; }");
refused('cs_reassign_after without a time', 'invalid value',
        "location /api/ { cs_api; cs_secret $secret; "
        . "cs_reassign_after later; }");

# cs_recurring N window: N 1 to 1000000, a whole number of minutes from 1m
# to 24h (the window is summed from minute buckets)
accepted('cs_recurring at http level and in the location',
         "cs_recurring 5 1h; location /api/ { cs_api; cs_secret $secret; "
         . "cs_recurring 3 24h; }");
for my $bad ([ '0 1h', '"0"' ], [ '1000001 1h', '"1000001"' ], [ 'x 1h', '"x"' ],
             [ '5 30s', '"30s"' ], [ '5 90s', '"90s"' ], [ '5 25h', '"25h"' ],
             [ '5 0', '"0"' ], [ '5 soon', '"soon"' ]) {
    refused("cs_recurring $bad->[0]", "invalid value $bad->[1] in \"cs_recurring\" directive",
            "location /api/ { cs_api; cs_secret $secret; cs_recurring $bad->[0]; }");
}
refused('cs_recurring with one value', 'invalid number of arguments in "cs_recurring"',
        "location /api/ { cs_api; cs_secret $secret; cs_recurring 5; }");
refused('cs_recurring twice', '"cs_recurring" directive is duplicate',
        "location /api/ { cs_api; cs_secret $secret; cs_recurring 5 1h; cs_recurring 6 1h; }");

# One desk, one value: two cs_api locations on one prefix and one Redis
# share the desk-wide settings; nginx -t names the directive and both
# locations' cs_api lines.
my $other = write_file('other.secret', ('e' x 64) . "\n");
my $same = write_file('same.secret', "$secret_text\n");
my $keys2 = write_file('admin2.keys', sha256_hex('k2') . "\n"
                                      . "alice " . sha256_hex('k1') . "\n");
my $keys3 = write_file('admin3.keys', "alice " . sha256_hex('k1') . "\n");

# two cs_api locations, each with its own lines, on lines of their own
sub two {
    my ($a, $b) = @_;
    return "location /a/ {\n            cs_api;\n            cs_secret $secret;"
         . " $a\n        }\n        location /b/ {\n            cs_api;\n"
         . "            cs_secret $secret; $b\n        }";
}

# the line of each location's cs_api in the configuration nginx_t wrote
sub api_lines {
    open my $fh, '<', "$prefix/nginx.conf" or die;
    my @lines;
    while (<$fh>) {
        push @lines, $. if /^\s*cs_api;/;
    }
    return @lines;
}

for my $d ([ 'cs_close_after', 'cs_close_after 1h;', 'cs_close_after 2h;' ],
           [ 'cs_presence_timeout', 'cs_presence_timeout 30s;', '' ],
           [ 'cs_reassign_after', 'cs_reassign_after 30s;',
             'cs_reassign_after 2m;' ],
           [ 'cs_reassign_after', '', 'cs_reassign_after 60s;' ],
           [ 'cs_assign', 'cs_assign least_loaded;', 'cs_assign round_robin;' ],
           [ 'cs_recurring', 'cs_recurring 5 1h;', 'cs_recurring 6 1h;' ],
           [ 'cs_recurring', 'cs_recurring 5 1h;', 'cs_recurring 5 2h;' ],
           [ 'cs_recurring', '', 'cs_recurring 4 1h;' ],
           [ 'cs_admin_keys', "cs_admin_keys $keys;", "cs_admin_keys $keys3;" ],
           [ 'cs_admin_keys', "cs_admin_keys $keys;", '' ],
           [ 'cs_secret', '', "cs_secret $secret $other;" ])
{
    my ($directive, $a, $b) = @$d;
    # a second cs_secret in a location is a duplicate: say it instead
    my $loc = two($a, $b);
    $loc =~ s/cs_secret \Q$secret\E; (cs_secret [^;]+;)/$1/g;
    my ($rc, $log) = nginx_t($loc);
    my ($la, $lb) = api_lines();
    isnt($rc, 0, "one desk, two $directive: nginx -t fails");
    like($log, qr/\[emerg\] "\Q$directive\E" differs between the cs_api locations in \Q$prefix\E\/nginx\.conf:$la and \Q$prefix\E\/nginx\.conf:$lb, which serve one desk \(prefix "cs:" on 127\.0\.0\.1:6379, database 0\)/,
         "one desk, two $directive: names it and both locations")
        or diag($log);
    unlike($log, qr/\Q$secret_text\E|eeeeeeee|ffffffff/,
           "one desk, two $directive: no secret in the message");
}

accepted('one desk, the same settings in both locations',
         two("cs_close_after 1h; cs_admin_keys $keys;",
             "cs_close_after 1h; cs_admin_keys $keys;"));
accepted('one desk, the settings inherited from the server',
         "cs_close_after 1h; cs_assign least_loaded; cs_admin_keys $keys;\n"
         . "cs_reassign_after 30s;\n" . two('', ''));
accepted('one desk, cs_reassign_after the same in both locations',
         two('cs_reassign_after 2m;', 'cs_reassign_after 120s;'));
accepted('two desks keep their own cs_reassign_after',
         two('cs_reassign_after 1m;',
             'cs_reassign_after 2m; cs_key_prefix b:;'));
accepted('one desk, one secret in two files, one set of keys in any order',
         two("cs_admin_keys $keys;", "cs_admin_keys $keys2;")
         =~ s/(location \/b\/ \{\s+cs_api;\s+cs_secret )\Q$secret\E/$1$same/r);
accepted('one desk, cs_recurring the same in both locations',
         two('cs_recurring 5 1h;', 'cs_recurring 5 60m;'));
accepted('one desk, cs_recurring the default in one and written in the other',
         two('', 'cs_recurring 5 1h;'));
accepted('two desks (two prefixes) keep their own settings',
         two('cs_close_after 1h;', 'cs_close_after 2h; cs_key_prefix b:;'));
accepted('two desks (two Redis databases) keep their own settings',
         two('cs_close_after 1h;', 'cs_close_after 2h; cs_redis_database 1;'));
accepted('a cs_service location keeps its own settings',
         two('cs_close_after 1h;', 'cs_close_after 1h;')
         . "\n        location = /service { cs_service; cs_close_after 2h; "
         . "cs_assign least_loaded; }");

# cs_rule: every part is checked when the configuration is read, and the
# message names the rule
my $api = "cs_api; cs_secret $secret;";
accepted('cs_rule with and without a category',
         qq[location /api/ { $api cs_rule pw "(?i)password" "Reset it" account; ]
         . qq[cs_rule hi "hello" "Hi"; }]);
refused('a regex that does not compile', 'cs_rule "broken": the regex does not compile',
        qq[location /api/ { $api cs_rule broken "(unclosed" "x"; }]);
refused('a rule named twice in one list', 'cs_rule "twice" is already defined',
        qq[location /api/ { $api cs_rule twice "a" "x"; cs_rule twice "b" "y"; }]);
refused('a rule name outside [A-Za-z0-9_.-]', 'a rule\'s name is 1 to 64 characters',
        qq[location /api/ { $api cs_rule "no spaces" "a" "x"; }]);
refused('a category that is not category-shaped', 'cs_rule "cat": the category "Not Ok"',
        qq[location /api/ { $api cs_rule cat "a" "x" "Not Ok"; }]);
refused('an empty answer', 'cs_rule "empty": the answer must be 1 to 4096 bytes',
        qq[location /api/ { $api cs_rule empty "a" ""; }]);
refused('an answer that is not UTF-8', 'cs_rule "latin": the answer must be 1 to 4096 bytes',
        qq[location /api/ { $api cs_rule latin "a" "caf\xe9"; }]);
accepted('cs_sticky off and a time', "location /api/ { $api cs_sticky off; } "
         . "location /b/ { cs_api; cs_secret $secret; cs_key_prefix b:; cs_sticky 2h; }");
refused('cs_sticky 0', 'must be a time above 0, or off',
        "location /api/ { $api cs_sticky 0; }");

done_testing();
