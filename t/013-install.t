# make install lays the module out as Debian's own module packages do, and
# the installed snippet's load_module line is all nginx needs, after
# ngx_devel_kit's (the module uses NDK's functions).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $make = $ENV{MAKE} || 'make';
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $ndk_so = '/usr/lib/nginx/modules/ndk_http_module.so';
my $dest = tempdir(CLEANUP => 1);

# The suite never installs packages: DEPS= leaves scripts/deps.sh out.
# Here every package looks missing and apt-get only leaves a mark, so a
# make install that still ran deps.sh would fail or leave the mark.
my $shim = "$dest/shim";
mkdir $shim or die "$shim: $!";
for (['dpkg-query', 'exit 1'], ['apt-get', "touch $shim/apt-get.ran; exit 1"],
     ['sudo', "touch $shim/apt-get.ran; exit 1"])
{
    my ($tool, $body) = @$_;
    open my $fh, '>', "$shim/$tool" or die "$shim/$tool: $!";
    print $fh "#!/bin/sh\n$body\n";
    close $fh;
    chmod 0755, "$shim/$tool";
}

my $out = `PATH=$shim:\$PATH $make -s install DEPS= DESTDIR=$dest 2>&1`;
is($?, 0, 'make install DEPS= succeeds') or diag($out);
ok(!-e "$shim/apt-get.ran", 'make install DEPS= runs no package manager');

my $so = "$dest/usr/lib/nginx/modules/ngx_http_cs_module.so";
ok(-f $so, 'the module is in /usr/lib/nginx/modules');

my $snippet = "$dest/usr/share/nginx/modules-available/mod-http-cs.conf";
open my $fh, '<', $snippet or die "$snippet: $!";
my $text = do { local $/; <$fh> };
is($text, "load_module modules/ngx_http_cs_module.so;\n",
   'the snippet holds only the load_module line');

my $link = "$dest/etc/nginx/modules-enabled/50-mod-http-cs.conf";
is(readlink($link), '/usr/share/nginx/modules-available/mod-http-cs.conf',
   'the snippet is enabled as 50-mod-http-cs.conf');

# the installed module loads into the stock nginx after NDK, and its
# directives parse
my $conf = "$dest/nginx.conf";
open my $c, '>', $conf or die "$conf: $!";
print $c <<"CONF";
load_module $ndk_so;
load_module $so;
error_log $dest/error.log;
pid $dest/nginx.pid;
events {}
http {
    server {
        listen 127.0.0.1:1;
        location = /api/service {
            cs_service;
            cs_agents agent1 agent2;
            cs_assign least_loaded;
        }
    }
}
CONF
close $c;
$out = `$nginx -t -p $dest -c $conf 2>&1`;
is($?, 0, 'nginx -t accepts the installed module') or diag($out);
like($out, qr/test is successful/, 'nginx says the test is successful');

done_testing();
