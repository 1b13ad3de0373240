package CsCheck;

# What a ticket test checks in Redis, shared by the body and validation
# suites: every 201 stored exactly what was sent (decoded with JSON::PP as
# the reference, defaults applied), queued, in the user's history and in
# the event stream; after a block's last answer, Redis holds the tickets
# answered 201 and nothing else, so a rejection wrote nothing.
#
#   use CsCheck;
#   check_stored_tickets();     # before run_tests()

use strict;
use warnings;

use Exporter 'import';
use Encode ();
use JSON::PP ();
use Time::HiRes ();
use Test::More ();
use CsTest;

our @EXPORT = qw(check_stored_tickets check_stored_sections);

my $json = JSON::PP->new->utf8;

sub dechunk {
    my ($s) = @_;
    my $out = '';
    while ($s =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $n = hex $1;
        last if $n == 0;
        $out .= substr($s, 0, $n, '');
        $s =~ s/\A\r\n//;
    }
    return $out;
}


# the header lines and the body bytes request $idx of the block sent, as
# Test::Nginx sends them
sub sent {
    my ($block, $idx) = @_;
    my ($head, $body);

    if (defined(my $raw = $block->raw_request)) {
        $raw = join '', @$raw if ref $raw;
        ($head, $body) = split /\r\n\r\n/, $raw, 2;

    } else {
        my $req = $block->pipelined_requests // $block->request;
        $req = $req->[$idx] if ref $req eq 'ARRAY';
        $req = join '', map { ref $_ ? $_->{value} : $_ } @$req if ref $req;
        $head = $block->more_headers // '';
        $head = $head->[$idx] if ref $head;
        $req =~ s/\A\s+//;
        (undef, $body) = split /\n/, $req, 2;
        $body //= '';
        $body =~ s/^\s+|\s+$//gs
            unless $head =~ /^(?:Content-Length|Transfer-Encoding):/mi;
    }

    if ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
        $body = dechunk($body);

    } elsif ($head =~ /^Content-Length:\s*(\d+)/mi) {
        $body = substr($body, 0, $1);
    }

    return ($head, $body);
}


sub nreqs {
    my ($block) = @_;
    return scalar @{ $block->pipelined_requests } if $block->pipelined_requests;
    return ref $block->request eq 'ARRAY' ? scalar @{ $block->request } : 1;
}


# A 201 must have stored exactly what was sent (decoded), with the defaults,
# queued the ticket, added it to the user's history and the event stream.
sub check_created {
    my ($block, $idx, $res) = @_;
    my $name = $block->name . " (req $idx)";
    my $id = $res->{ticketId};

    my ($head, $body) = sent($block, $idx);
    my $sent = $json->decode($body);
    my %want = map { $_ => Encode::encode_utf8($sent->{$_}) } keys %$sent;
    $want{priority} //= 'normal';
    $want{channel} //= 'api';
    $want{id} = $id;
    $want{state} = $res->{state};
    $want{agent} = $res->{agent} if defined $res->{agent};
    # the user's keys are named by an HMAC of the userId, which the ticket
    # keeps as userKey (the data model's change for privacy)
    $want{userKey} = user_key($want{userId});
    # the intake's Idempotency-Key, by which users/export and users/erase
    # find its record
    if ($head =~ /^Idempotency-Key:[ \t]*(.*?)[ \t]*\r?$/mi) {
        $want{idemKey} = $1;
    }

    my %got = %{ ticket($id) };
    my $at = delete $got{createdAt} // '';
    Test::More::ok($at =~ /^\d{13}$/ && abs($at / 1000 - Time::HiRes::time())
                   < 600, "$name - createdAt is a time in ms ($at)");
    Test::More::is_deeply(\%got, \%want, "$name - ticket $id holds the body");

    # an agent's queue, or the backlog (a sorted set since v2's priority
    # order; v1's list cs:queue:unassigned)
    my $queue = defined $res->{agent} ? "cs:queue:$res->{agent}"
                                      : 'cs:backlog';
    my @in = defined $res->{agent} ? redis()->lrange($queue, 0, -1)
                                   : redis()->zrange($queue, 0, -1);
    Test::More::ok((grep { $_ eq $id } @in),
                   "$name - ticket $id is in $queue");

    Test::More::ok((grep { $_ eq $id } user_tickets($want{userId})),
                   "$name - ticket $id is in the user's history");

    my @ev = grep { my %f = @{ $_->[1] };
                    ($f{type} // '') eq 'ticket.created'
                    && ($f{ticketId} // '') eq $id }
             redis()->xrange('cs:events', '-', '+');
    Test::More::is(scalar @ev, 1, "$name - one ticket.created for $id");

    if ($head =~ /^Idempotency-Key:[ \t]*(.*?)[ \t]*\r?$/mi) {
        my $agent = $res->{agent} // '';
        Test::More::like(redis()->get("cs:idem:$1") // '',
                         qr/^$id:[0-9a-f]{40}:$res->{state}:\Q$agent\E$/,
                         "$name - the Idempotency-Key names ticket $id");
    }
}


# Per answer: a 201 is checked against Redis.  After the block's last
# answer Redis must hold the tickets answered 201 and nothing else: a
# rejection writes nothing.
my %created;

sub check_stored_tickets {
    Test::Nginx::Socket::add_response_body_check(\&check_answer);
}


sub check_answer {
    my ($block, $body, $idx) = @_;
    my $name = $block->name;

    $body //= '';
    # behind a "100 Continue" the real answer is in the body, head and all
    $body =~ s/\AHTTP\/1\.1 \d{3} .*?\r?\n\r?\n//s;

    my $res = eval { $json->decode($body) };
    if (ref $res eq 'HASH' && ($res->{status} // '') eq 'success') {
        check_created($block, $idx, $res);
        $created{$name}{ $res->{ticketId} } = 1;
    }

    return if $idx < nreqs($block) - 1;

    my $n = keys %{ $created{$name} // {} };
    if ($n == 0) {
        my @keys = redis_keys();
        Test::More::is(scalar @keys, 0, "$name - nothing written")
            or Test::More::diag("keys: @keys");
        return;
    }

    my @tickets = grep { /^cs:ticket:\d+$/ } redis_keys('cs:ticket:*');
    Test::More::is(scalar @tickets, $n, "$name - $n ticket(s), no more");
    Test::More::is(redis()->get('cs:ticket:seq'), $n,
                   "$name - the sequence counted $n ticket(s)");
}


# A block's "--- stored" section is Perl run after each response with
# $name, $body, $req_idx and $r (a fresh Redis client) in scope, in package
# main, to assert what Redis holds now.
my %stored;

sub check_stored_sections {
    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
        return if $dry_run;
        my $code = $block->stored;
        return unless defined $code;
        my $name = $block->name;
        # a section that does not compile or dies is a failure, whatever
        # the runner does with a die
        $stored{$name} //= eval "package main; sub {\n"
            . 'my ($name, $body, $req_idx, $r) = @_;' . "\n$code\n}"
            || do { my $e = $@; sub { die "--- stored does not compile: $e" } };
        eval { $stored{$name}->($name, $body, $req_idx, redis()); 1 }
            or Test::More::fail("$name - --- stored died: $@");
    });
}

1;
