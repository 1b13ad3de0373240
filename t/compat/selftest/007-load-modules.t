# Self-test of the compat runner: several modules in TEST_NGINX_LOAD_MODULES
# (any white space between them), loaded in their order and before
# --- main_config, as the real Test::Nginx does.  The order matters here:
# ngx_http_cs_module needs ngx_devel_kit's functions, so nginx refuses to
# start when NDK does not come first.  Uses Debian's NDK
# (libnginx-mod-http-ndk) and the module from `make build`.
my ($Ndk, $Cs);
BEGIN {
    $Ndk = '/usr/lib/nginx/modules/ndk_http_module.so';
    $Cs = $ENV{TEST_NGINX_CS_MODULE} || 'build/ngx_http_cs_module.so';
    $Cs = "$ENV{PWD}/$Cs" if $Cs !~ m{^/} && $ENV{PWD};
    $ENV{TEST_NGINX_LOAD_MODULES} = "  $Ndk\n\t$Cs ";
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

plan skip_all => "$Ndk not installed" unless -f $Ndk;
plan skip_all => "$Cs not built (make build)" unless -f $Cs;

# status + body, and the two checks of the written nginx.conf below
plan tests => 2 + 2;

add_response_body_check(sub {
    open my $fh, '<', $Test::Nginx::Util::ConfFile or die "conf: $!";
    my $conf = do { local $/; <$fh> };
    like($conf, qr/load_module \Q$Ndk\E; load_module \Q$Cs\E;/,
         'the modules are loaded in the given order');
    like($conf, qr/load_module \Q$Cs\E; # main_config of the block/,
         'before --- main_config');
});

run_tests();

__DATA__

=== TEST 1: NDK, then the module that needs it, then main_config
--- main_config
# main_config of the block
--- config
    location = /t {
        return 200 "loaded\n";
    }
--- request
GET /t
--- response_body
loaded
