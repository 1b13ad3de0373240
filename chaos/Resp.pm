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
    return bless { sock => $sock }, $class;
}

sub _cmd {
    my $s = '*' . scalar(@_) . "\r\n";
    $s .= '$' . length($_) . "\r\n$_\r\n" for @_;
    return $s;
}

sub _read {
    my ($self) = @_;
    my $sock = $self->{sock};
    local $/ = "\r\n";
    my $line = <$sock>;
    defined $line or die "Redis closed the connection\n";
    chomp $line;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' or $t eq ':';
    return { err => $v } if $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        while (length($buf) < $v + 2) {
            my $n = read($sock, $buf, $v + 2 - length($buf), length($buf));
            die "short read from Redis\n" unless $n;
        }
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { $self->_read } 1 .. $v ];
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
