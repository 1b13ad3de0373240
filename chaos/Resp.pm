package Resp;

# A few lines of RESP over a socket, for the chaos checkers (core Perl
# only): one connection to a Redis on 127.0.0.1, commands pipelined in
# batches.  An error reply is returned as { err => "..." }, so that one
# bad key does not stop a check that reads thousands.

use strict;
use warnings;
use IO::Socket::INET;

sub new {
    my ($class, $port) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Timeout => 10)
        or die "cannot reach Redis on 127.0.0.1:$port: $!\n";
    binmode $sock;
    return bless { sock => $sock, buf => '', pos => 0 }, $class;
}

sub _cmd {
    my $s = '*' . scalar(@_) . "\r\n";
    $s .= '$' . length($_) . "\r\n$_\r\n" for @_;
    return $s;
}

# the replies are read in large chunks and parsed from a buffer: a
# check reads thousands of small values, which line-by-line reads would
# pay for one by one
sub _more {
    my ($self) = @_;
    substr($self->{buf}, 0, $self->{pos}, '');
    $self->{pos} = 0;
    my $n = sysread($self->{sock}, $self->{buf}, 1 << 16,
                    length $self->{buf});
    die "Redis closed the connection\n" unless $n;
}

sub _line {
    my ($self) = @_;
    my $i;
    $self->_more while ($i = index($self->{buf}, "\r\n", $self->{pos})) < 0;
    my $line = substr($self->{buf}, $self->{pos}, $i - $self->{pos});
    $self->{pos} = $i + 2;
    return $line;
}

sub _read {
    my ($self) = @_;
    my $line = $self->_line;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' or $t eq ':';
    return { err => $v } if $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        $self->_more while length($self->{buf}) - $self->{pos} < $v + 2;
        my $s = substr($self->{buf}, $self->{pos}, $v);
        $self->{pos} += $v + 2;
        return $s;
    }
    if ($t eq '*') {
        return undef if $v < 0;
        # the usual array, of bulk strings, without a call for each
        my @a;
        for (1 .. $v) {
            my $i = index($self->{buf}, "\r\n", $self->{pos});
            if ($i < 0 || substr($self->{buf}, $self->{pos}, 1) ne '$') {
                push @a, $self->_read;
                next;
            }
            my $n = substr($self->{buf}, $self->{pos} + 1,
                           $i - $self->{pos} - 1);
            if ($n < 0 || length($self->{buf}) < $i + 4 + $n) {
                push @a, $self->_read;
                next;
            }
            push @a, substr($self->{buf}, $i + 2, $n);
            $self->{pos} = $i + 4 + $n;
        }
        return \@a;
    }
    die "bad reply from Redis: $line\n";
}

# many commands (array refs), pipelined in batches; their replies in order
sub many {
    my ($self, @cmds) = @_;
    my @out;
    while (my @batch = splice(@cmds, 0, 2000)) {
        print { $self->{sock} } join('', map { _cmd(@$_) } @batch);
        push @out, $self->_read for @batch;
    }
    return @out;
}

# one command; dies on an error reply
sub call {
    my ($self, @cmd) = @_;
    my ($r) = $self->many(\@cmd);
    die "Redis: @cmd[0 .. ($#cmd < 1 ? $#cmd : 1)]: $r->{err}\n"
        if ref $r eq 'HASH';
    return $r;
}

# every key matching the pattern (SCAN, so Redis serves others meanwhile)
sub keys_like {
    my ($self, $pattern) = @_;
    my ($cursor, @keys) = (0);
    do {
        my $r = $self->call('SCAN', $cursor, 'MATCH', $pattern,
                            'COUNT', 1000);
        ($cursor, my $batch) = @$r;
        push @keys, @$batch;
    } while ($cursor != 0);
    my %seen;
    return grep { !$seen{$_}++ } @keys;
}

1;
