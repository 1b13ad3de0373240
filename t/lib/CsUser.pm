package CsUser;

# Shared by the tests of users/export and users/erase (t/044, t/045): a
# user with open, solved, rated and waiting tickets in several agents'
# queues and the backlog, messages with Idempotency-Keys, and the ways to
# look for that user's data in the whole store (a full SCAN: tests only).

use strict;
use warnings;

use Exporter 'import';
use JSON::PP;
use CsTest ();
use CsApi ();

our @EXPORT = qw(export erase the_user full_dump personal_in ukey_of);

my $json = JSON::PP->new->canonical;

sub export {
    my ($body, @token) = @_;
    return CsApi::api(POST => 'users/export',
                      @token ? $token[0] : $CsApi::Admin,
                      ref $body ? $json->encode($body) : $body);
}

sub erase {
    my ($body, @token) = @_;
    return CsApi::api(POST => 'users/erase',
                      @token ? $token[0] : $CsApi::Admin,
                      ref $body ? $json->encode($body) : $body);
}

# the name of a user's keys under this test file's cs_secret
sub ukey_of {
    my ($user) = @_;
    open my $f, '<', $ENV{TEST_NGINX_CS_SECRET} or die;
    my $s = do { local $/; <$f> };
    $s =~ s/\n\z//;
    return CsTest::user_key($user, $s);
}

# alice and bob (capacity 2 each, online) and the user $u (its id, email
# and issues carry a marker): five tickets, (1) solved and rated with a
# comment, (2)-(4) assigned across alice and bob, (5) waiting; each with
# a customer message and an agent reply under Idempotency-Keys; another
# user's tickets: one assigned, one waiting behind (5).  Answers a hash:
# ids => [...], other => [assigned id, waiting id], tokens => {name},
# needles => [the user's personal strings], eventId
sub the_user {
    my ($u, %o) = @_;
    my $mark = $o{mark} // 'PII' . int(rand(1e9));
    my %tok = (alice => CsApi::new_agent('alice', 2),
               bob => CsApi::new_agent('bob', 2));
    my (@ids, %ctok);
    my $email = lc($mark) . '@example.com';
    my $ticket = sub {
        my ($n) = @_;
        my (undef, $b) = CsApi::api(POST => 'service', undef,
            $json->encode({ userId => $u, issue => "$mark issue $n: my card",
                            email => $email }),
            { 'Idempotency-Key' => "intake-$mark-$n" });
        push @ids, $b->{ticketId};
        $ctok{ $b->{ticketId} } = $b->{token};
        return $b;
    };
    my $talk = sub {
        my ($id, $agent) = @_;
        CsApi::api(POST => "tickets/$id/messages", $ctok{$id},
                   qq({"body":"$mark body from the customer on $id"}),
                   { 'Idempotency-Key' => "m-$mark-$id" });
        CsApi::api(POST => "tickets/$id/messages", $tok{$agent},
                   qq({"body":"$mark reply to $id"}),
                   { 'Idempotency-Key' => "r-$mark-$id" }) if $agent;
    };
    for my $n (1 .. 4) {
        my $b = $ticket->($n);
        $talk->($b->{ticketId}, $b->{agent});
    }
    my $first = CsTest::ticket($ids[0]);
    CsApi::api(POST => "tickets/$ids[0]/status", $tok{ $first->{agent} },
               '{"state":"solved"}');
    CsApi::api(POST => "tickets/$ids[0]/feedback", $ctok{ $ids[0] },
               qq({"csat":2,"ces":5,"comment":"$mark comment"}));
    # the agent that solved (1) takes another user's ticket
    my (undef, $o1) = CsApi::api(POST => 'service', undef,
        '{"userId":"someone-else","issue":"the other user\'s issue"}');
    my $b5 = $ticket->(5);
    $talk->($b5->{ticketId});
    my (undef, $o2) = CsApi::api(POST => 'service', undef,
        '{"userId":"someone-else","issue":"the other user\'s second"}');
    my $rec = { CsTest::redis()->hgetall('cs:user:' . ukey_of($u)) };
    return { ids => \@ids, other => [ $o1->{ticketId}, $o2->{ticketId} ],
             tokens => \%tok, customer => \%ctok, mark => $mark,
             email => $email, eventId => $rec->{eventId},
             needles => [ $u, $email, $mark ] };
}

# every key name and value of the store, one line each (a stream entry's
# fields and values too): for the test's eyes only, a full SCAN
sub full_dump {
    my $r = CsTest::redis();
    my @out;
    my $cursor = 0;
    my @keys;
    do {
        my ($next, $got) = $r->scan($cursor, 'COUNT', 1000);
        push @keys, @$got;
        $cursor = $next;
    } while ($cursor != 0);
    for my $key (sort @keys) {
        my $type = $r->type($key);
        my @v;
        if ($type eq 'string') {
            @v = ($r->get($key));
        } elsif ($type eq 'hash') {
            @v = $r->hgetall($key);
        } elsif ($type eq 'list') {
            @v = $r->lrange($key, 0, -1);
        } elsif ($type eq 'set') {
            @v = $r->smembers($key);
        } elsif ($type eq 'zset') {
            @v = $r->zrange($key, 0, -1, 'WITHSCORES');
        } elsif ($type eq 'stream') {
            @v = map { ($_->[0], @{ $_->[1] }) } $r->xrange($key, '-', '+');
        }
        push @out, "$key ($type): " . join("\x1f", map { $_ // '' } @v);
    }
    return join "\n", @out;
}

# the lines of the store that hold any of these strings
sub personal_in {
    my ($dump, @needles) = @_;
    return grep { my $l = $_; grep { index($l, $_) >= 0 } @needles }
           split /\n/, $dump;
}

1;
