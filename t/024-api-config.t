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
        'in a location that has the other of cs_service and cs_api',
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

done_testing();
