# make install lays the module out as Debian's own module packages do, and
# the installed snippets are all nginx needs: included as Debian's
# nginx.conf includes them (modules-enabled/*.conf, in name order), NDK's
# 10-mod-http-ndk.conf loads ngx_devel_kit before 50-mod-http-cs.conf loads
# the module, which needs NDK's functions.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $make = $ENV{MAKE} || 'make';
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $avail = '/usr/share/nginx/modules-available';
my $ndk_so = '/usr/lib/nginx/modules/ndk_http_module.so';
my $dest = tempdir(CLEANUP => 1);

plan skip_all => "$ndk_so is missing (apt-get install libnginx-mod-http-ndk)"
    unless -f $ndk_so && -f "$avail/mod-http-ndk.conf";

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
like($out, qr/10-mod-http-ndk\.conf loads ngx_devel_kit before 50-mod-http-cs\.conf/,
     'make install says NDK is enabled and loads first');

my $so = "$dest/usr/lib/nginx/modules/ngx_http_cs_module.so";
ok(-f $so, 'the module is in /usr/lib/nginx/modules');

my $snippet = "$dest$avail/mod-http-cs.conf";
open my $fh, '<', $snippet or die "$snippet: $!";
my $text = do { local $/; <$fh> };
is($text, "load_module modules/ngx_http_cs_module.so;\n",
   'the snippet holds only the load_module line');

my $enabled = "$dest/etc/nginx/modules-enabled";
is(readlink("$enabled/50-mod-http-cs.conf"), "$avail/mod-http-cs.conf",
   'the snippet is enabled as 50-mod-http-cs.conf');

# the agents' page, where conf/nginx.conf's location /desk/ aliases it
open my $cf, '<', 'conf/nginx.conf' or die "conf/nginx.conf: $!";
my ($alias) = do { local $/; <$cf> } =~ m!location /desk/ \{[^}]*?alias (\S+);!s;
close $cf;
is($alias, '/usr/share/nginx/cs-desk/', 'conf/nginx.conf serves /desk/ from /usr/share/nginx/cs-desk/');
for my $f (qw(index.html desk.js desk.css)) {
    my ($got, $want) = map { open my $h, '<', $_ or die "$_: $!"; local $/; <$h> }
                           "$dest$alias$f", "conf/desk/$f";
    ok(defined $got && $got eq $want, "the page's $f is installed there");
}

# NDK's package enables its snippet under this name on the real system
ok(-e '/etc/nginx/modules-enabled/10-mod-http-ndk.conf',
   "libnginx-mod-http-ndk's snippet is enabled as 10-mod-http-ndk.conf");

# the installed layout, rooted in the DESTDIR: the two enabled names, ours
# pointing to the snippet installed there and NDK's to its package's;
# "modules/" under the prefix holds both modules, as Debian's
# /usr/share/nginx/modules points to /usr/lib/nginx/modules
my $include = "$dest/modules-enabled";
mkdir $include or die "$include: $!";
symlink($dest . readlink("$enabled/50-mod-http-cs.conf"),
        "$include/50-mod-http-cs.conf") or die "symlink: $!";
symlink("$avail/mod-http-ndk.conf", "$include/10-mod-http-ndk.conf")
    or die "symlink: $!";
mkdir "$dest/modules" or die "$dest/modules: $!";
symlink($ndk_so, "$dest/modules/ndk_http_module.so") or die "symlink: $!";
symlink($so, "$dest/modules/ngx_http_cs_module.so") or die "symlink: $!";

my $secret = "$dest/cs.secret";
open my $s, '>', $secret or die "$secret: $!";
print $s 'x' x 64, "\n";
close $s;

# nginx -t with the given main-level lines; returns status and output
sub nginx_t {
    my ($main) = @_;
    my $conf = "$dest/nginx.conf";
    open my $c, '>', $conf or die "$conf: $!";
    print $c <<"CONF";
$main
error_log $dest/error.log;
pid $dest/nginx.pid;
events {}
http {
    access_log off;
    cs_secret $secret;
    server {
        listen 127.0.0.1:1;
        set_cs_pseudonym \$cs_anon_ip \$remote_addr;
        location = /api/service {
            cs_service;
            cs_agents agent1 agent2;
            cs_assign least_loaded;
        }
    }
}
CONF
    close $c;
    my $log = `'$nginx' -t -p '$dest/' -c '$conf' -e '$dest/error.log' 2>&1`;
    return ($?, $log);
}

my ($rc, $log) = nginx_t("include $include/*.conf;");
is($rc, 0, 'nginx -t accepts the enabled snippets') or diag($log);
like($log, qr/test is successful/, 'nginx says the test is successful');

# the order is what makes it work: the module alone, or before NDK, is
# refused by the dynamic linker
($rc, $log) = nginx_t("load_module modules/ngx_http_cs_module.so;\n"
                      . "load_module modules/ndk_http_module.so;");
isnt($rc, 0, 'the module before NDK: nginx -t fails');
like($log, qr/undefined symbol: ndk_set_var_value/,
     'the module before NDK: NDK\'s symbol is missing');

done_testing();
