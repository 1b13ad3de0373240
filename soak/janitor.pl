#!/usr/bin/env perl
# Runs soak/janitor.lua against Redis every INTERVAL ms on one connection
# until it is killed: small batches, so that no call holds Redis for long
# (a batch of 5000 tickets took long enough to show in the soak's p99).
#   janitor.pl PORT PREFIX KEEP BATCH INTERVAL_MS AGENT...
use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use File::Basename qw(dirname);

my ($port, $prefix, $keep, $batch, $interval, @agents) = @ARGV;
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                 Timeout => 10)
    or die "janitor: cannot reach Redis on $port: $!\n";
binmode $sock;

sub cmd {
    my $s = '*' . scalar(@_) . "\r\n";
    $s .= '$' . length($_) . "\r\n$_\r\n" for @_;
    print $sock $s;
    local $/ = "\r\n";
    my $line = <$sock>;
    defined $line or die "janitor: Redis closed the connection\n";
    $line =~ s/\r\n$//;
    die "janitor: $line\n" if $line =~ /^-/;
    if ($line =~ /^\$(\d+)$/) {
        my $buf = '';
        read($sock, $buf, $1 + 2) == $1 + 2 or die "janitor: short read\n";
        return substr($buf, 0, $1);
    }
    return substr($line, 1);
}

my $file = dirname($0) . '/janitor.lua';
open my $f, '<', $file or die "janitor: $file: $!\n";
my $sha = cmd('SCRIPT', 'LOAD', do { local $/; <$f> });

for (;;) {
    my $n = cmd('EVALSHA', $sha, 0, $prefix, $keep, $batch, @agents);
    # behind: go again at once
    sleep($interval / 1000) if $n < $batch;
}
