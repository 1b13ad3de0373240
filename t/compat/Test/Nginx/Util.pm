package Test::Nginx::Util;

# Minimal stand-in for openresty/test-nginx's Test::Nginx::Util: everything
# about the nginx server under test (globals, nginx.conf generation,
# start/stop, the per-block driver).  The HTTP client and the response checks
# live in Test::Nginx::Socket.  Only used when the real CPAN module is not
# installed; see t/compat/README.md.

use strict;
use warnings;

our $VERSION = '0.29';

use base 'Exporter';

use POSIX qw(SIGQUIT SIGKILL SIGTERM WNOHANG);
use File::Spec ();
use File::Path qw(make_path remove_tree);
use List::Util qw(shuffle);
use Time::HiRes qw(sleep time);
use Scalar::Util qw(looks_like_number);
use IO::Socket::INET ();
use Test::More ();
use Test::LongString ();
use Carp qw(croak);

# ---- settings (same environment variables and defaults as the real one) ----

our $Verbose           = $ENV{TEST_NGINX_VERBOSE};
our $RepeatEach        = 1;
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $EventType         = $ENV{TEST_NGINX_EVENT_TYPE};
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $ReusePort         = $ENV{TEST_NGINX_REUSE_PORT};
our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers           = 1;
our $WorkerConnections = 64;
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled     = 'on';
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort || 1984;
our $NoRootLocation    = 0;
our $TestNginxSleep    = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ConfigPreamble    = '';
our $NoLongString;
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $ForceRestartOnTest = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                          ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;

if (defined $WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

# Under valgrind nginx must stay in the foreground so that valgrind sees it
# exit (and reports leaks); the master process setting is left alone.
$DaemonEnabled = 'off' if $UseValgrind;

# Hooks filled in by Test::Nginx::Socket.
our ($RunTestHelper, $CheckErrorLog);
our (@BlockPreprocessors, @CleanupHandlers, @EnvToNginx);

# Run-time state.
our ($NginxVersion, $NginxRawVersion, $PrevConfig, $PrevBlock, $ChildPid);
our $ErrLogFilePos = 0;
our $InSubprocess;

srand $$;    # as the real one: a different block order in every run

our $ServRoot = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');

our @EXPORT = qw(
    env_to_nginx is_str is_running $NoLongString no_long_string
    $ServerAddr server_addr $ServerName server_name parse_time verbose
    sleep_time bail_out add_cleanup_handler access_log_data error_log_data
    get_canon_version get_nginx_version
    trim show_all_chars parse_headers run_tests get_pid_from_pidfile
    $ServerPortForClient $ServerPort $NginxVersion $PidFile $ServRoot
    $ConfFile $RunTestHelper $CheckErrorLog $RepeatEach
    add_block_preprocessor timeout worker_connections workers master_on
    master_off config_preamble repeat_each master_process_enabled log_level
    no_shuffle no_root_location html_dir server_root server_port
    server_port_for_client check_accum_error_log
);

# ---- small configuration functions (same prototypes as the real ones) ----

sub no_long_string ()        { $NoLongString = 1 }
sub no_shuffle ()            { $NoShuffle = 1 }
sub no_root_location ()      { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()             { $MasterProcessEnabled = 'on' }
sub master_off ()            { $MasterProcessEnabled = 'off' }
sub config_preamble ($)      { $ConfigPreamble = shift }
sub verbose                  { $Verbose }
sub sleep_time               { $TestNginxSleep }
sub html_dir ()              { $HtmlDir }
sub server_root ()           { $ServRoot }
sub add_cleanup_handler ($)  { unshift @CleanupHandlers, shift }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

# Getter/setter pairs: with an argument they set, without they return.
sub timeout (@)            { $Timeout = shift if @_; $Timeout }
sub server_addr (@)        { $ServerAddr = shift if @_; $ServerAddr }
sub server_name (@)        { $ServerName = shift if @_; $ServerName }
sub server_port (@)        { $ServerPort = shift if @_; $ServerPort }
sub server_port_for_client (@) {
    $ServerPortForClient = shift if @_;
    $ServerPortForClient;
}
sub workers (@)            { $Workers = shift if @_; $Workers }
sub worker_connections (@) { $WorkerConnections = shift if @_; $WorkerConnections }
sub log_level (@)          { $LogLevel = shift if @_; $LogLevel }
sub repeat_each (@)        { $RepeatEach = shift if @_; $RepeatEach }
sub master_process_enabled (@) {
    return $MasterProcessEnabled unless @_;
    $MasterProcessEnabled = shift() ? 'on' : 'off';
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# A zombie counts as gone: a daemonized nginx is reaped by PID 1, which in
# some containers takes a second or more.
sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        return 0 if $stat =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

# "--- timeout: 50ms" style values.
sub parse_time ($) {
    my $tm = shift;
    return $tm unless defined $tm;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) { $tm /= 1000 }
    else { $tm =~ s/([^_a-zA-Z])s$/$1/ }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs; $s =~ s/\r/\\r/gs; $s =~ s/\t/\\t/gs;
    return $s;
}

# String comparison honouring no_long_string() and qr// expectations.
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc) if ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

# "Name: value" lines -> {Name => value}; "!Name" gives undef (must be absent).
sub parse_headers ($) {
    my %headers = map { @$_ } @{ header_spec_list(shift) };
    return \%headers;
}

# Same, as ordered [name, value] pairs (a later duplicate replaces an earlier
# one, as in the hash), so that the per-header tests come in section order.
sub header_spec_list ($) {
    my $s = shift;
    my (@order, %val);
    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;
        my ($key, $v);
        if ($line =~ s/^!\s*//) { $key = $line }
        else { ($key, $v) = split /\s*:\s*/, $line, 2 }
        push @order, $key unless exists $val{$key};
        $val{$key} = $v;
    }
    return [ map { [$_, $val{$_}] } @order ];
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(@_);
}

# ---- process handling ----

sub get_pid_from_pidfile ($) {
    my $name = shift;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for reading: $!");
    my $pid = do { local $/; <$in> };
    close $in;
    chomp $pid if defined $pid;
    return $pid;
}

# Waits (bounded) for $pid to go away.  waitpid() reaps it when it is our own
# child (the valgrind case), otherwise kill(0) would see the zombie forever.
sub wait_for_exit ($$) {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        waitpid($pid, WNOHANG);
        return 1 unless is_running($pid);
        sleep 0.02;
    }
    waitpid($pid, WNOHANG);
    return !is_running($pid);
}

# Graceful stop by pid: QUIT, then TERM, then KILL, each after a bounded wait.
sub kill_process ($$) {
    my ($pid, $name) = @_;
    return unless is_running($pid);
    kill SIGQUIT, $pid;
    # valgrind's leak check at exit can take a while; give it time.
    return if wait_for_exit($pid, $UseValgrind ? 30 : timeout());
    warn "$name - timeout when waiting for the process $pid to exit\n";
    kill SIGTERM, $pid;
    return if wait_for_exit($pid, 1);
    warn "$name - WARNING: killing the child process $pid with force...\n";
    # A valgrind child is its own process group leader (setpgrp below).
    kill SIGKILL, (getpgrp($pid) == $pid ? -$pid : $pid);
    wait_for_exit($pid, 2);
}

# Stops the nginx recorded in the pid file, if any.
sub stop_nginx ($) {
    my $name = shift;
    return unless -f $PidFile;
    my $pid = get_pid_from_pidfile($name);
    kill_process($pid, $name) if $pid;
    unlink $PidFile if -f $PidFile;
}

sub cleanup () {
    $_->() for @CleanupHandlers;
    if (defined $ChildPid) {
        kill_process($ChildPid, 'cleanup');
        undef $ChildPid;
    }
}

# ---- server root and nginx.conf ----

sub setup_server_root () {
    if (-d $ServRoot) {
        # Only remove what we create, so a mistaken TEST_NGINX_SERVROOT
        # cannot wipe real data (the rmdir fails on anything else).
        remove_tree($ConfDir, $HtmlDir, $LogDir, glob("$ServRoot/*_cache"),
                    glob("$ServRoot/*_temp"));
        rmdir $ServRoot or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        mkdir $dir or bail_out("Failed to do mkdir $dir: $!");
    }
    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't open $HtmlDir/index.html for writing: $!");
    print $out '<html><head><title>It works!</title></head>'
             . '<body>It works!</body></html>';
    close $out;
}

# Replaces $TEST_NGINX_FOO by $ENV{TEST_NGINX_FOO}; an unknown variable aborts
# the whole run, as in the real one.
sub expand_env_in_text ($$) {
    my ($text, $name) = @_;
    return undef unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        defined $ENV{$1} or bail_out("$name - No environment $1 defined.\n");
        $ENV{$1};
    }ge;
    return $text;
}

# "--- user_files": ">>> name [touch-date]" lines followed by the content, or
# an eval'ed [[name, content, date], ...] list.  Relative names go to html/.
sub write_user_files ($) {
    my ($block) = @_;
    my $name  = $block->name;
    my $files = $block->user_files or return;
    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) { push @list, [$1, '', $2] }
            elsif (@list) { $list[-1][1] .= $line }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }
    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) { make_path($1) }
        $body = expand_env_in_text($body // '', $name);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("Failed to touch $path\n");
        }
    }
}

# Same layout as the real Test::Nginx; as there, TEST_NGINX_LOAD_MODULES
# is a white-space separated list, loaded in its order (a module that needs
# another's symbols, e.g. NDK's, comes after it) and before --- main_config.
sub write_config_file ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config, $name) // '';
    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { length }
                      split /\s+/, $LoadModules;
        $main_config = join ' ', @modules, $main_config if @modules;
    }
    $main_config = expand_env_in_text($main_config, $name);
    my $post_main_config =
        expand_env_in_text($block->post_main_config, $name) // '';
    my $err_log_file = $block->error_log_file || $ErrLogFile;
    my $server_name  = $block->server_name // $ServerName;
    my $listen_opts  = $ReusePort ? ' reuseport' : '';
    $config //= '';

    my $env = join '', map { my $v = /\s/ ? "'$_'" : $_; "env $v;\n" } @EnvToNginx;

    my $root_location = $NoRootLocation ? '' : <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $events_use = $EventType ? "    use $EventType;\n" : '';
    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n"
             : '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<_EOC_;
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
${env}#env LUA_PATH;
#env LUA_CPATH;

$main_config

http {
    access_log $AccLogFile;
    #access_log off;

    default_type text/plain;
    keepalive_timeout  68;

$http_config

    server {
        listen          $ServerPort$listen_opts;
        server_name     '$server_name';

        client_max_body_size 30M;
        #client_body_buffer_size 4k;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
${events_use}}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out;
}

# ---- nginx version (for --- skip_nginx) ----

sub get_canon_version (@) { sprintf "%d.%03d%03d", $_[0], $_[1], $_[2] }

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    bail_out("Failed to get the version of the Nginx in PATH: " . ($out // ''))
        if !defined $out || $? != 0;
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

# Looks $cmd up in PATH.  Unlike the real one we also try the usual sbin
# directories, which are not in a normal user's PATH on Debian.
sub can_run ($) {
    my $cmd = shift;
    if ($cmd =~ m{/}) {
        return (-f $cmd && -x _) ? $cmd : undef;
    }
    for my $dir (split(/:/, $ENV{PATH} // ''), qw(/usr/sbin /usr/local/sbin
                 /usr/local/nginx/sbin /usr/local/openresty/nginx/sbin))
    {
        next unless length $dir;
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x _;
    }
    return undef;
}

# "--- skip_nginx: 3: < 1.21.0" and "--- skip_eval: 2: <perl expr>".
# Returns (number of tests to skip, reason) when the block must be skipped.
sub skip_spec ($) {
    my $block = shift;
    my $name = $block->name;
    if (defined(my $spec = $block->skip_eval)) {
        my ($n, $code) = $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- skip_eval spec: $spec");
        my $skip = eval $code;
        bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@") if $@;
        return ($n, 'skip_eval') if $skip;
    }
    if (defined(my $spec = $block->skip_nginx)) {
        my ($n, $op, @v) = $spec =~
            /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my $reason = $v[3] || "nginx version $op $v[0].$v[1].$v[2]";
        my $ver = get_canon_version(@v[0 .. 2]);
        return ($n, $reason) if eval "$NginxVersion $op $ver";
    }
    return;
}

# ---- starting nginx ----

# The real one runs "nginx -p servroot/ -c conf > /dev/null".  We add
# "-e <error.log>" (nginx >= 1.19.5): distribution builds such as Debian's
# log start-up errors (e.g. config errors for --- must_die) to stderr only,
# while a default source build, as used with the real one, writes them to
# <prefix>/logs/error.log where --- error_log can see them.
sub nginx_cmd ($) {
    my $name = shift;
    my $bin = can_run($NginxBinary)
        or bail_out("$name - Cannot find the nginx executable in the PATH environment");
    my $early_log = ($NginxVersion // 0) >= 1.019005 ? " -e $ErrLogFile" : '';
    return "$bin -p $ServRoot/ -c $ConfFile$early_log > /dev/null";
}

# Waits (bounded) for the pid file: nginx writes it once the listening
# sockets are open, so connecting after that cannot be refused.
sub wait_for_nginx ($$) {
    my ($name, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if -s $PidFile;
        if (defined $ChildPid && waitpid($ChildPid, WNOHANG) != 0) {
            warn "$name - nginx (pid $ChildPid) exited during start-up\n";
            return 0;
        }
        sleep 0.01;
    }
    warn "$name - nginx did not write $PidFile within $secs s\n";
    return 0;
}

sub start_nginx ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;

    stop_nginx($name);
    setup_server_root();
    write_user_files($block);
    write_config_file($block, $config);

    my $cmd = nginx_cmd($name);

    if ($UseValgrind) {
        # Same command lines as the real Test::Nginx: a numeric value selects
        # default memcheck options, anything else is the option string.
        if ($UseValgrind =~ /^\d+$/) {
            my $opts = '--tool=memcheck --leak-check=full --show-possibly-lost=no';
            my $supp = -f 'valgrind.suppress' ? ' --suppressions=valgrind.suppress' : '';
            $cmd = "valgrind --num-callers=100 -q $opts --gen-suppressions=all$supp $cmd";
        } else {
            $cmd = "valgrind -q $UseValgrind $cmd";
        }
        warn "$name\n";
        # nginx runs in the foreground (daemon off) in its own process group.
        my $pid = fork;
        bail_out("$name - fork() failed: $!") unless defined $pid;
        if ($pid == 0) {
            $InSubprocess = 1;
            setpgrp;
            exec "exec $cmd" or POSIX::_exit(127);
        }
        $ChildPid = $pid;
        wait_for_nginx($name, 60);
        return;
    }

    # The daemonized nginx returns once it is listening.  Retry (bounded)
    # only while the port is still held, e.g. by a slowly exiting nginx.
    my $waited = 0;
    while (1) {
        system($cmd);
        last if $? == 0;
        my $status = $?;
        my $in_use = -f $ErrLogFile && do {
            open my $in, '<', $ErrLogFile;
            grep { /Address already in use/ } <$in>;
        };
        if ($in_use && $waited < 30) {
            sleep 0.5;
            $waited += 0.5;
            next;
        }
        bail_out("$name - Cannot start nginx using command \"$cmd\" (status code $status).");
    }
    wait_for_nginx($name, 10);
}

# --- must_die: nginx is expected to refuse to start.
sub run_must_die ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $must_die = $block->must_die;
    my $cmd = nginx_cmd($name);
    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        system($cmd);
        my $status = $?;
        if ($status == -1) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $status >> 8,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }
        $CheckErrorLog->($block, undef, 0, $i, 0);
        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing it (req $i)\n";
            wait_for_nginx($name, 2);
            stop_nginx($name);
        }
    }
}

# ---- error/access log access ----

# Reads the error.log lines written since the previous call for this block
# (all lines with check_accum_error_log()).
sub error_log_data () {
    # Leave nginx time to log things in the log phase, after the response.
    sleep $TestNginxSleep * 3;
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell($in) unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or die "open $AccLogFile failed: $!";
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# ---- the driver ----

sub run_test ($) {
    my $block = shift;
    return if defined $block->SKIP;
    my $name = $block->name;
    my $config = expand_env_in_text($block->config, $name);

    local $LogLevel = $block->log_level || $LogLevel;
    # Valgrind makes no sense for a server that must not start.
    local $UseValgrind = defined $block->must_die ? undef : $UseValgrind;
    local $DaemonEnabled = $UseValgrind ? 'off' : 'on';

    my ($tests_to_skip, $skip_reason) = skip_spec($block);

    if ($tests_to_skip) {
        # nothing to start
    } elsif (defined $config) {
        # The real one restarts unless TEST_NGINX_FORCE_RESTART_ON_TEST=0
        # and the config is unchanged.
        my $running = -f $PidFile && is_running(get_pid_from_pidfile($name));
        if (!$running || $ForceRestartOnTest || !defined $PrevConfig
            || $config ne $PrevConfig || defined $block->must_die)
        {
            $PrevConfig = $config;
            if (defined $block->must_die) {
                stop_nginx($name);
                setup_server_root();
                write_user_files($block);
                write_config_file($block, $config);
                return run_must_die($block, $config);
            }
            start_nginx($block, $config);
        }
    } elsif (!defined $PrevConfig) {
        bail_out("$name - No '--- config' section specified and could not get previous one.");
    } elsif (!(-f $PidFile && is_running(get_pid_from_pidfile($name)))) {
        # No --- config: the real one keeps using the running nginx.  When
        # none is running (valgrind mode stops it after each block), we
        # start one with the previous block's sections instead of failing.
        start_nginx($PrevBlock, $PrevConfig);
    }

    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        write_user_files($block) if $i > 0;
        if ($tests_to_skip) {
            SKIP: { Test::More::skip("$name - $skip_reason", $tests_to_skip) }
            next;
        }
        $RunTestHelper->($block, 0, $i);
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile && open my $out, '>>', $total_errlog) {
            open my $in, '<', $ErrLogFile;
            print $out "\n=== $0 $name\n", <$in>;
            close $out;
        }
    }

    # Stop nginx after every block under valgrind so that its report
    # (printed at exit) shows up next to the block that caused it.
    if ($UseValgrind) {
        stop_nginx($name);
        undef $ChildPid;
    }
}

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value('name', "$0 " . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }
    cleanup();
}

END {
    return if $InSubprocess;
    local $?;    # keep the exit status Test::Builder is about to compute
    cleanup();
    if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
        stop_nginx('END');
    }
}

1;
