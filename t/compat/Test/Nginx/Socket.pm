package Test::Nginx::Socket;

# Minimal stand-in for openresty/test-nginx's Test::Nginx::Socket: the HTTP
# client and the response / log checks, with the real module's test names and
# test counts.  Server handling is in Test::Nginx::Util.  Only used when the
# real CPAN module is missing; see t/compat/README.md for the subset.
#
# NOTE: "use Test::Base -Base" installs Spiffy's source filter, which adds
# "my $self = shift;" to every top-level "sub name {".  That is why every
# named sub below has a prototype, as in the real module.

use v5.10.1;
use Test::Base -Base;
use strict;
use warnings;

our $VERSION = '0.29';

use POSIX qw(EAGAIN WNOHANG);
use Time::HiRes qw(sleep time);
use IO::Socket::INET ();
use IO::Select ();
use HTTP::Response ();
use List::Util qw(min);
use Test::LongString;

use Test::Nginx::Util;

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location server_name
    server_addr server_root html_dir server_port server_port_for_client
    timeout check_accum_error_log add_block_preprocessor bail_out
    add_cleanup_handler add_response_body_check
);

our @ResponseBodyChecks;
our $TotalConnectingTimeouts = 0;

sub run_test_helper ($$$);
sub check_error_log ($$$$$);
sub value_contains ($$);

$RunTestHelper = \&run_test_helper;
$CheckErrorLog = \&check_error_log;

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

# ---- building requests ----

# "--- more_headers" text -> ("Key: val\r\n"..., is_chunked); '#' lines skipped.
sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $is_chunked) = ('', 0);
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val //= '';
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

sub max0 ($) { $_[0] < 0 ? 0 : $_[0] }

# Turns "METH [URL [VERSION]]\n[body]" (given as packets, which are only
# split points) into the wire format: the version defaults to HTTP/1.1,
# Host and Connection are added unless given in more_headers, and so is a
# Content-Length (the body is then trimmed of surrounding whitespace).
# Returns the new list of packets, split at the corresponding places.
sub build_request ($$$$$) {
    my ($name, $more, $is_chunked, $conn, $packets) = @_;
    my $orig = join '', map { $_ // '' } @$packets;
    my ($line, $body) = $orig =~ /\A([^\n]*\n?)(.*)\z/s;
    bail_out("$name - Request line should be non-empty") unless length $line;
    $line =~ /^(\s*)(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - Request line is not valid. Should be 'meth [url [version]]' but got \"$line\".");
    my ($lead, $meth, $url, $ver) = (length $1, $2, $3 // '/', $4 // 'HTTP/1.1');

    my ($len_header, $body_lead) = ('', 0);
    if (!$is_chunked && $body ne '' && $more !~ /(?:^|\n)Content-Length:/) {
        $body_lead = length($1) if $body =~ s/^(\s+)//s;
        $body =~ s/\s+$//s;
        $len_header = "Content-Length: " . length($body) . "\r\n";
    }
    $more =~ s/(?<!\r)\n/\r\n/gs;
    my $headers = '';
    $headers .= "Host: $ServerName\r\n" if $more !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn\r\n" if $more !~ /(?:^|\n)Connection/msi;
    $headers .= "$more$len_header\r\n";
    my $head = "$meth $url $ver\r\n";

    # Map each original split point into the new text: inside the request
    # line it stays at the same column, inside the body it follows the body.
    my $new = $head . $headers . $body;
    my @out;
    my ($pos, $prev) = (0, 0);
    for my $i (0 .. $#$packets - 1) {
        $pos += length($packets->[$i] // '');
        my $at = $pos < length $line
            ? min(max0($pos - $lead), length($head) - 2)
            : length($head . $headers)
              + min(max0($pos - length($line) - $body_lead), length $body);
        push @out, substr($new, $prev, $at - $prev);
        $prev = $at;
    }
    push @out, substr($new, $prev);
    return \@out;
}

# Returns a list of requests, each a list of {value => data[, delay_before
# => secs]} packets, from --- raw_request, --- pipelined_requests or
# --- request (a string, or an eval'ed array of strings / packet arrays).
sub get_req_from_block ($) {
    my $block = shift;
    my $name  = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { +{ value => $_ } } ref $raw eq 'ARRAY' ? @$raw : $raw ]];
    }

    my $more = $block->more_headers // '';
    my $hdr_for = sub {
        my $i = shift;
        my $h = ref $more eq 'ARRAY' ? $more->[$i] : $more;
        bail_out("--- more_headers lacks data for the ${i}th request") unless defined $h;
        return parse_more_headers($h);
    };

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $data = '';
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            my ($hdr, $is_chunked) = $hdr_for->($i);
            $data .= join '', @{ build_request($name, $hdr, $is_chunked, $conn,
                                               [$reqs->[$i]]) };
        }
        return [[{ value => $data }]];
    }

    my $request = $block->request;
    if (defined $request && !ref $request) {
        # leading blank lines and "# comment" lines are allowed
        1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//gs;
    }
    my @list = ref $request eq 'ARRAY' ? @$request : ($request);
    bail_out("$name - invalid ---request : MUST be string or array of requests")
        if ref $request && ref $request ne 'ARRAY';

    my @reqs;
    for my $i (0 .. $#list) {
        my $one = $list[$i];
        my ($hdr, $is_chunked) = $hdr_for->($i);
        if (!ref $one) {
            my $r = build_request($name, $hdr, $is_chunked, 'close', [$one]);
            push @reqs, [{ value => $r->[0] }];
        } elsif (ref $one eq 'ARRAY') {
            my @data = map {
                ref $_ eq 'HASH' ? $_->{value}
                : !ref $_ ? $_
                : bail_out("$name - Invalid syntax. $_ should be a string or hash with value.")
            } @$one;
            my $r = build_request($name, $hdr, $is_chunked, 'close', \@data);
            push @reqs, [ map { +{ %{ ref $one->[$_] ? $one->[$_] : {} },
                                   value => $r->[$_] } } 0 .. $#$r ];
        } else {
            bail_out("$name - Invalid syntax. $one should be a string or an array of packets.");
        }
    }
    return \@reqs;
}

# ---- talking to nginx ----

# Connects, retrying with the real one's growing back-off (nginx may still be
# starting, e.g. under valgrind).  Fails the test after too many attempts.
sub connect_to_nginx ($$) {
    my ($block, $timeout) = @_;
    my $name  = $block->name;
    my $addr  = $block->server_addr_for_client // $ServerAddr;
    my $tries = $TotalConnectingTimeouts ? 20 : 50;
    my $err;
    for my $try (1 .. $tries) {
        my $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                          PeerPort => $ServerPortForClient,
                                          Proto => 'tcp', Timeout => $timeout);
        return $sock if $sock;
        $err = $!;
        my $child = $Test::Nginx::Util::ChildPid;
        if (defined $child && waitpid($child, WNOHANG) != 0) {
            warn "WARNING: Child process $child is already gone.\n";
            $err .= " (nginx exited)";
            last;
        }
        my $wait = min(1, (sleep_time() + sleep_time() * $try) * $try / 2);
        warn "$name - Can't connect to $addr:$ServerPortForClient: $err\n"
             . "\tRetry connecting after $wait sec\n" if $wait >= 0.6;
        sleep $wait;
    }
    my $msg = "$name - Can't connect to $addr:$ServerPortForClient: $err (aborted)\n";
    bail_out($msg) if ++$TotalConnectingTimeouts >= 3;
    Test::More->builder->no_ending(1);
    fail($msg);
    return;
}

# Sends the packets of one request (sleeping raw_request_middle_delay or a
# packet's delay_before between them) while reading the response until the
# server closes.  $timeout bounds each wait for I/O, not the whole exchange.
# Returns (raw response, is_head_request).
sub send_request ($$$$) {
    my ($packets, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my @queue = @$packets;
    my $head_req = (join '', map { $_->{value} // '' } @queue) =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $sock = connect_to_nginx($block, $timeout) or return (undef, $head_req);
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my $buf = (shift @queue)->{value} // '';
    my ($off, $resp, $writing, $reading) = (0, '', 1, 1);
    my $sel = IO::Select->new($sock);
    while ($writing || $reading) {
        my ($r, $w) = IO::Select->select($reading ? $sel : undef,
                                         $writing ? $sel : undef, undef, $timeout);
        if (!$r && !$w) {
            close $sock;
            if (defined $block->abort) {
                sleep 0.005;
            } else {
                Test::More->builder->no_ending(1);
                fail("ERROR: client socket timed out - $name\n");
            }
            return ($resp, $head_req);
        }
        if ($w && @$w) {
            my $n = syswrite($sock, $buf, length($buf) - $off, $off);
            if (!defined $n) {
                if ($! != EAGAIN) {
                    warn "write failed: $!\n";
                    $resp = "write failed: $!" unless length $resp;
                    last;
                }
            } elsif (($off += $n) >= length $buf) {
                if (my $next = shift @queue) {
                    my $delay = $next->{delay_before} // $middle_delay;
                    sleep $delay if $delay;
                    ($buf, $off) = ($next->{value} // '', 0);
                } else {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        shutdown($sock, $how =~ /^\s*$/ ? 1 : $how);
                    }
                }
            }
        }
        if ($r && @$r) {
            my $n = sysread($sock, my $chunk, 4096);
            if (!defined $n) {
                next if $! == EAGAIN;
                warn "WARNING: $name - HTTP response read failure: $!";
                last;
            }
            last if $n == 0;    # server closed the connection
            $resp .= $chunk;
        }
    }
    close $sock;
    return ($resp, $head_req);
}

# ---- parsing responses ----

# Returns (HTTP::Response, raw header text, bytes left after this response).
# The left-over is the next response in the pipelined case.
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my $left;
    my $bad = sub {
        Test::More->builder->no_ending(1);
        fail("$name - $_[0]");
        return;
    };

    if (defined $enc && $enc eq 'chunked') {
        my $body = $res->content // '';
        my $decoded = '';
        while (1) {
            if ($body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                my $at = pos $body;
                return $bad->("invalid chunked data received (not enought octets for the data section)")
                    if length($body) - $at < $size;
                $decoded .= substr($body, $at, $size);
                pos($body) = $at + $size;
                return $bad->("invalid chunked data received (expected CRLF).")
                    unless $body =~ /\G\r\n/gc;
            } elsif ($body =~ /\G(.+)/gcs) {
                return $bad->("invalid chunked body received: $1");
            } else {
                return $bad->("no last chunk found - $body");
            }
        }
        $res->content($decoded);
    } elsif (defined $len && $len =~ /^\d+$/) {
        my $body = $res->content // '';
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, but got ",
                 length $body, "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }
    return ($res, $raw_headers, $left);
}

# ---- checks (same names and counts as the real module) ----

# Expected values must be arrays when a block sends several requests.
sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results should be arrays as well.");
    }
    return ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub check_error_code ($$$$) {
    my ($block, $res, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';
    if (defined $block->error_code_like) {
        my $val = get_indexed_value($name, $block->error_code_like, $req_idx, $need_array);
        like($code, qr/$val/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        is($code, get_indexed_value($name, $block->error_code, $req_idx, $need_array),
           "$name - status code ok");
    } else {
        is($code, 200, "$name - status code ok");
    }
}

sub check_response_headers ($$$$$) {
    my ($block, $res, $raw_headers, $req_idx, $need_array) = @_;
    my $name = $block->name;
    for my $kind (qw(raw_response_headers_like raw_response_headers_unlike)) {
        next unless defined $block->$kind;
        my $pat = get_indexed_value($name, $block->$kind, $req_idx, $need_array);
        my $cmp = $kind =~ /unlike/ ? \&unlike : \&like;
        $cmp->($raw_headers, qr/$pat/s,
               "$name - raw resp headers " . ($kind =~ /unlike/ ? 'unlike' : 'like'));
    }
    if (defined $block->response_headers) {
        my $spec = get_indexed_value($name, $block->response_headers, $req_idx, $need_array);
        for my $h (@{ Test::Nginx::Util::header_spec_list($spec) }) {
            my ($key, $val) = @$h;
            if (!defined $val) {
                unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                       "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = $res ? $res->header($key) : undef;
            is($actual // '', $val, "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $spec = get_indexed_value($name, $block->response_headers_like, $req_idx, $need_array);
        for my $h (@{ Test::Nginx::Util::header_spec_list($spec) }) {
            my ($key, $val) = @$h;
            my $actual = $res ? $res->header($key) : undef;
            like($actual // '', qr/^$val$/, "$name - header $key like ok");
        }
    }
}

sub check_response_body ($$$$$) {
    my ($block, $res, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;
    if (defined $content) {    # leftovers of LWP days, stripped by the real one
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
        $content =~ s/^Connection: TE, close\r\n//gms;
    }
    my $which = "(repeated req $repeated_req_idx, req $req_idx)";

    if (defined $block->response_body) {
        my $expected = get_indexed_value($name, $block->response_body, $req_idx, $need_array);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
        if (ref $expected) {
            like($content, $expected, "$name - response_body - like $which");
        } elsif ($NoLongString) {
            is($content, $expected, "$name - response_body - response is expected $which");
        } else {
            is_string($content, $expected, "$name - response_body - response is expected $which");
        }
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $meth = "response_body_$type";
        my $pat = get_indexed_value($name, $block->$meth, $req_idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content) // '';
        my $cmp = $type eq 'like' ? \&like : \&unlike;
        $cmp->($content, qr/$pat/s, "$name - response_body_$type - response is expected ($summary)");
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx, $repeated_req_idx, 0);
    }
}

# ---- error.log / access.log checks ----

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g; $s =~ s/\r/\\r/g; $s =~ s/\n/\\n/g;
    return $s;
}

# A section value -> list of patterns: lines of text, a qr//, or an array.
sub pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) { chomp $pats; return [ split /\n+/, $pats ] }
    return ref $pats eq 'Regexp' ? [$pats] : [@$pats];
}

# Whether a section value (string, qr// or array of them) mentions $str.
sub value_contains ($$) {
    my ($val, $str) = @_;
    return 0 unless defined $val;
    return scalar grep { value_contains($_, $str) } @$val if ref $val eq 'ARRAY';
    return index("$val", $str) >= 0;
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}

# Every pattern must match some line: one test per pattern.
sub check_patterns_present ($$$$$) {
    my ($name, $spec, $lines, $file, $rep) = @_;
    my $pats = pattern_list($spec);
    for my $line (@$lines) {
        for my $pat (@$pats) {    # $pat aliases the list: undef = found
            next unless defined $pat && line_matches($line, $pat);
            pass("$name - pattern \"$pat\" matches a line in $file (req $rep)");
            undef $pat;
        }
    }
    for my $pat (grep { defined } @$pats) {
        fail("$name - pattern \"$pat\" should match a line in $file (req $rep)");
    }
}

# No pattern may match: one passing test per clean pattern, one failing test
# per offending line (extra tests, hence no_ending as in the real one).
sub check_patterns_absent ($$$$$) {
    my ($name, $spec, $lines, $file, $rep) = @_;
    my $pats = pattern_list($spec);
    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@$pats) {
            next unless defined $pat && line_matches($line, $pat);
            Test::More->builder->no_ending(1) if $found{$pat}++;
            my @more = @$lines[$i + 1 .. min($i + 10, $#$lines) - 1];
            fail("$name - pattern \"" . fmt_str($pat) . "\" should not match any line in $file"
                 . " but matches line \"" . fmt_str($line) . "\" (req $rep)\n" . join '', @more);
        }
    }
    for my $pat (grep { defined && !$found{$_} } @$pats) {
        pass("$name - pattern \"" . fmt_str($pat) . "\" does not match a line in $file (req $rep)");
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $rep, $need_array) = @_;
    my $name  = $block->name;
    my $lines = error_log_data();

    my $grep = $block->grep_error_log;
    if (defined $grep) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            unless defined $expected;
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';
        my $out = '';
        for my $line (@$lines) {
            next unless ref $grep ? $line =~ /$grep/ : $line =~ /\Q$grep\E/;
            $out .= "$&\n" if $& !~ /\n/;
        }
        is_str($out, $expected, "$name - grep_error_log_out (req $rep)");
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }

    my %mentioned;
    for my $sec (qw(error_log no_error_log)) {
        my $spec = $block->$sec;
        next unless defined $spec;
        for my $level (qw(alert crit emerg)) {
            $mentioned{$level} = 1 if value_contains($spec, "[$level");
        }
        if ($sec eq 'error_log') {
            check_patterns_present($name, $spec, $lines, 'error.log', $rep);
        } else {
            check_patterns_absent($name, $spec, $lines, 'error.log', $rep);
        }
    }

    # Serious messages nobody asked about are reported, not failed.
    for my $line (@$lines) {
        if ($line =~ /\[(alert|crit|emerg)\]/ && !$mentioned{$1}) {
            warn "WARNING: $name - " . fmt_str($line) . "\n";
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            Test::More->builder->no_ending(1);
            chomp(my $l = $line);
            fail("$name - $l\n");
        }
    }
}

sub check_access_log ($$) {
    my ($block, $rep) = @_;
    my $name = $block->name;
    return unless defined $block->access_log || defined $block->no_access_log;
    my $lines = access_log_data();
    check_patterns_present($name, $block->access_log, $lines, 'access.log', $rep)
        if defined $block->access_log;
    check_patterns_absent($name, $block->no_access_log, $lines, 'access.log', $rep)
        if defined $block->no_access_log;
}

# ---- one repetition of one block ----

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout) // timeout();
    my $ignore  = defined $block->ignore_response;
    my $n = $block->pipelined_requests ? scalar @{ $block->pipelined_requests } : 0;
    my $need_array = $n ? 1 : @$reqs > 1;
    my $req_idx = 0;

    for my $req (@$reqs) {
        my ($raw, $head_req) = send_request($req, $block->raw_request_middle_delay,
                                            $timeout, $block);
        # A pipelined exchange is one byte stream holding $n responses.
        while (1) {
            $raw //= '';
            my ($res, $raw_headers, $left);
            if (!$ignore) {
                if (defined $block->http09) {
                    ($res, $raw_headers) = (HTTP::Response->new(200, 'OK', [], $raw), '');
                } else {
                    ($res, $raw_headers, $left) = parse_response($name, $raw, $head_req);
                }
            }
            if ($n) {
                ($raw, $n) = ($left, $n - 1);
            } elsif (defined $left && length $left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last chunk in response: \"$l\"\n";
            }
            if (!$ignore) {
                check_error_code($block, $res, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers // '', $req_idx, $need_array);
                check_response_body($block, $res, $req_idx, $repeated_req_idx, $need_array);
            }
            # Between the requests of a multi-request block the logs are
            # checked too (the real module does the same).
            if ($n || $req_idx < $#$reqs) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, 0, $repeated_req_idx, $need_array);
                check_access_log($block, $repeated_req_idx) unless $ignore;
            }
            $req_idx++;
            last unless $n;
        }
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, undef, 0, $repeated_req_idx, $need_array);
    check_access_log($block, $repeated_req_idx) unless $ignore;
}

1;
