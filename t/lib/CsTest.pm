package CsTest;

# Shared by the t/*.t files: a private redis-server per test file, started
# and stopped by its PID, a client to look at what Redis holds, and bounded
# polling for fault tests.  Works the same under the real Test::Nginx and
# under the project's runner in t/compat.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256);
use Exporter 'import';
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64url);
use POSIX ();
use Redis;
use Time::HiRes qw(sleep time);

our @EXPORT = qw(redis redis_start redis_stop redis_signal redis_restart
                 wait_until redis_keys ticket flush_redis valgrind
                 redis_pid redis_dir post_ticket free_port user_tickets warm_up
                 user_key nginx_connections pid_in master_pid workers_of);

my %server;     # the one redis-server of this test file
my $owner = $$; # forked children must not stop it

sub valgrind { return $ENV{TEST_NGINX_USE_VALGRIND} ? 1 : 0 }

sub free_port {
    for (1 .. 50) {
        my $port = 20000 + int(rand(20000));
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Listen => 1,
                                      ReuseAddr => 1);
        if ($s) {
            close $s;
            return $port;
        }
    }
    die "no free port for redis-server\n";
}

# redis_start(args => [...]) starts redis-server on a private port and
# exports it as $TEST_NGINX_REDIS_PORT for the nginx configs.
sub redis_start {
    my (%opt) = @_;

    my $port = $server{port} || $ENV{TEST_NGINX_REDIS_PORT} || free_port();
    my $dir = $server{dir} || "/tmp/cs-test-redis-$port-$$";
    make_path($dir);

    my @args = ('redis-server', '--port', $port, '--bind', '127.0.0.1',
                '--dir', $dir, '--save', '', '--appendonly', 'no',
                '--unixsocket', "$dir/redis.sock", '--unixsocketperm', '777',
                '--daemonize', 'no', '--logfile', "$dir/redis.log",
                '--enable-debug-command', 'local',
                @{ $opt{args} || $server{args} || [] });

    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec @args or POSIX::_exit(127);
    }

    %server = (port => $port, pid => $pid, dir => $dir,
               args => $opt{args} || $server{args} || []);

    $ENV{TEST_NGINX_REDIS_PORT} = $port;
    $ENV{TEST_NGINX_REDIS_SOCKET} = "$dir/redis.sock";

    wait_until(sub {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port);
        return $s ? 1 : 0;
    }, 10) or die "redis-server did not start on port $port\n";

    return $port;
}

sub redis_stop {
    my $pid = $server{pid} or return;
    kill 'CONT', $pid;
    kill 'TERM', $pid;
    wait_until(sub { waitpid($pid, POSIX::WNOHANG()) == $pid }, 10)
        or do { kill 'KILL', $pid; waitpid($pid, 0) };
    delete $server{pid};
}

sub redis_signal {
    my ($sig) = @_;
    my $pid = $server{pid} or die "no redis-server\n";
    kill $sig, $pid;
    if ($sig eq 'KILL') {
        waitpid($pid, 0);
        delete $server{pid};
    }
}

sub redis_restart {
    my (%opt) = @_;
    redis_stop();
    return redis_start(%opt);
}

# Under valgrind the first handshake of a worker can take longer than the
# default cs_redis_connect_timeout of 1 s; give it more at http level (a
# location that sets its own value keeps it).  Timing is not under test
# there.
if (valgrind()) {
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        $block->set_value('http_config', ($block->http_config // '')
                          . "\ncs_redis_connect_timeout 20s;\n");
    });
}

sub redis_pid { return $server{pid} }

sub redis_dir { return $server{dir} }

# post_ticket($json, header => value, ...): one POST /api/service to the
# test server, outside Test::Nginx's own request; returns (status, body)
sub post_ticket {
    my ($json, %headers) = @_;
    require HTTP::Tiny;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    my $path = delete $headers{path} || '/api/service';
    my $res = HTTP::Tiny->new(timeout => valgrind() ? 30 : 10)->post(
        "http://127.0.0.1:$port$path",
        { content => $json,
          headers => { 'Content-Type' => 'application/json', %headers } });
    return ($res->{status}, $res->{content}, $res->{headers});
}

# warm_up(): one ticket, posted again until it is taken (201), so that the
# worker holds its Redis connection before a block breaks Redis.  Under
# valgrind the real Test::Nginx runs a block's init before nginx listens.
sub warm_up {
    my @res;
    wait_until(sub {
        @res = post_ticket('{"userId":"warm","issue":"connect first"}', @_);
        return $res[0] == 201;
    }, 30) or die "nginx did not take the warm-up ticket: $res[0]\n";
    return @res;
}

# the desk's Redis Functions library as nginx loads it
# (ngx_http_cs_library.sh), named cs_test, with each extra
# name => [prelude, body] registered as one more function, as the build
# registers a script
sub desk_library {
    my (%extra) = @_;
    my $dir = (__FILE__ =~ s{t/lib/CsTest\.pm$}{}r) . 'ngx_cs_module';
    my $text = qx{sh '$dir/ngx_http_cs_library.sh' '$dir'};
    die "ngx_http_cs_library.sh: $?" if $? || $text eq '';
    for my $name (sort keys %extra) {
        my ($prelude, $body) = @{ $extra{$name} };
        $text .= "\nredis.register_function(LIB .. '$name', "
               . "desk($prelude, function()\n$body\nend))\n";
    }
    return "#!lua name=cs_test\nlocal LIB = 'cs_test_'\n$text";
}

# desk_library(%extra) loaded into Redis $r; each script is then
# FCALL cs_test_<script> 1 <prefix> <args>, as nginx calls it
sub load_desk {
    my ($r, %extra) = @_;
    $r->function_load('REPLACE', desk_library(%extra));
    return;
}

# h2($url, $body, header => value, ...): a POST of $body, or a GET without
# one; returns (protocol, status, body), status 0 when there was no answer
sub h2 {
    my ($url, $body, %headers) = @_;
    require File::Temp;
    require JSON::PP;
    my $dir = File::Temp->newdir;
    my @cmd = ('nghttp', "--har=$dir/har",
               map { ('-H', lc($_) . ": $headers{$_}") } sort keys %headers);
    if (defined $body) {
        open my $fh, '>', "$dir/body" or die "$dir/body: $!";
        print $fh $body;
        close $fh;
        push @cmd, '-d', "$dir/body";
    }
    # nghttp complains on its stderr, which is the test's
    open my $out, '-|', @cmd, $url or die "nghttp: $!";
    my $answer = do { local $/; <$out> } // '';
    close $out;
    my $res = eval {
        open my $fh, '<', "$dir/har" or die;
        JSON::PP->new->decode(do { local $/; <$fh> })->{log}{entries}[0]{response};
    } // {};
    return ($res->{httpVersion} // '', $res->{status} // 0, $answer);
}

# a fresh client each time: tests kill and restart the server; its name
# tells it apart from nginx's connections in CLIENT LIST
sub redis {
    my %args = @{ $server{args} || [] };
    return Redis->new(server => "127.0.0.1:$server{port}", name => 'cs-test',
                      reconnect => 0, cnx_timeout => 2, read_timeout => 5,
                      write_timeout => 5,
                      ($args{'--requirepass'}
                       ? (password => $args{'--requirepass'}) : ()));
}

# the connections that are not the tests' own, each as a hash of its
# CLIENT LIST fields (id, addr, cmd, ...)
sub nginx_connections {
    return grep { ($_->{name} // '') ne 'cs-test' }
           map { +{ map { split /=/, $_, 2 } split ' ' } }
           split /\n/, redis()->client_list;
}

sub flush_redis {
    redis()->flushall();
}

# the keys the desk holds, sorted; not the sweep's lock (<prefix>lock:*),
# which a timer of a cs_api desk takes whatever the requests do
sub redis_keys {
    my ($pattern) = @_;
    my @keys = grep { !/^[^:]*:lock:/ } redis()->keys($pattern // '*');
    return sort @keys;
}

sub ticket {
    my ($id, $prefix) = @_;
    return { redis()->hgetall(($prefix // 'cs:') . "ticket:$id") };
}

# The cs_secret of the test file's desk (the file's bytes, a final newline
# not part of them); undef for a desk without cs_secret, whose user keys
# are named under the module's public key (ngx_http_cs_auth.h).
our $Secret;
our $PublicUserKey = 'ngx_cs_module user keys: no cs_secret';

# the name of a user's keys, as nginx makes it: the HMAC-SHA256 of
# "key:" userId under the secret, its first 16 bytes in base64url
sub user_key {
    my ($user, $secret) = @_;
    $secret //= $Secret // $PublicUserKey;
    return encode_base64url(substr(hmac_sha256("key:$user", $secret), 0,
                                   16));
}

# the ids of a user's tickets, oldest first (their number in scalar
# context), from the user's history: the one place that knows how that key
# is named
sub user_tickets {
    my ($user, $prefix, $secret) = @_;
    my @ids = redis()->lrange(($prefix // 'cs:') . 'user:'
                              . user_key($user, $secret) . ':tickets', 0, -1);
    return @ids;
}

# polls cond every 50 ms for at most timeout seconds (longer under valgrind)
sub wait_until {
    my ($cond, $timeout) = @_;
    $timeout *= 5 if valgrind();
    my $deadline = time + $timeout;
    while (1) {
        my $ok = eval { $cond->() };
        return 1 if $ok;
        return 0 if time > $deadline;
        sleep 0.05;
    }
}

# the pid a pid file names, 0 when none
sub pid_in {
    my ($file) = @_;
    open my $fh, '<', $file or return 0;
    my $pid = <$fh> // '';
    chomp $pid;
    return $pid || 0;
}

# the test's nginx master
sub master_pid {
    return pid_in(Test::Nginx::Util::server_root() . '/logs/nginx.pid');
}

# the worker processes of a master, in pid order
sub workers_of {
    my ($master) = @_;
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my ($pid, $ppid) = (scalar <$fh> // '') =~ /^(\d+) \(.*\) \S+ (\d+)/s
            or next;
        push @pids, $pid if $ppid == $master;
    }
    return sort { $a <=> $b } @pids;
}

END {
    return if $$ != $owner;
    my $dir = $server{dir};
    redis_stop();
    remove_tree($dir) if $dir && !$ENV{TEST_NGINX_NO_CLEAN};
}

1;
