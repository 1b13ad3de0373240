# POST users/export (admin): everything stored about a user, found
# through the user's history (never a scan), a page of at most 100
# tickets: each ticket whole (fields but secrets, messages, feedback,
# idempotency records, the stream entries that concern it), the user's
# record; each page audited as user.exported.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use CsUser;
use JSON::PP;

redis_start();

check_stored_sections();

desk_blocks();

run_tests();

__DATA__

=== TEST 1: a user's tickets, whole: fields (no nonce), messages, feedback, idempotency records, events; the record; another user's tickets not; audited without personal data
--- stored
my $u = 'user:{42}*?';
my $d = the_user($u);
my ($st, $b) = export({ userId => $u });
is($st, 200, "$name - 200");
is($b->{status}, 'success', "$name - success");
is($b->{userId}, $u, "$name - the user id");
is_deeply($b->{user}, { eventId => $d->{eventId} }, "$name - the user's record: its event id");
is($b->{cursor}, undef, "$name - one page");
is($b->{erasing}, undef, "$name - not being erased");
is_deeply([ map { $_->{ticket}{id} } @{ $b->{tickets} } ], $d->{ids}, "$name - the user's tickets, oldest first, no other's");
my %t = map { $_->{ticket}{id} => $_ } @{ $b->{tickets} };
my $first = $t{ $d->{ids}[0] };
is($first->{ticket}{issue}, "$d->{mark} issue 1: my card", "$name - the issue");
is($first->{ticket}{email}, $d->{email}, "$name - the email");
is($first->{ticket}{userId}, $u, "$name - the user id in the ticket");
is($first->{ticket}{csat}, 2, "$name - feedback: csat");
is($first->{ticket}{ces}, 5, "$name - feedback: ces");
is($first->{ticket}{feedbackComment}, "$d->{mark} comment", "$name - feedback: the comment");
is($first->{ticket}{state}, 'solved', "$name - the state");
ok(!exists $first->{ticket}{nonce}, "$name - no secret");
is_deeply([ map { $_->{body} } @{ $first->{messages} } ],
          [ "$d->{mark} body from the customer on $d->{ids}[0]", "$d->{mark} reply to $d->{ids}[0]" ],
          "$name - the messages, customer's and agent's");
is_deeply([ sort map { "$_->{scope} $_->{key}" } @{ $first->{idempotency} } ],
          [ "intake intake-$d->{mark}-1", "message m-$d->{mark}-$d->{ids}[0]", "message r-$d->{mark}-$d->{ids}[0]" ],
          "$name - the idempotency records: the intake's and the messages'");
ok((grep { $_->{ttl} > 0 && $_->{record} =~ /^\d+:[0-9a-f]{40}:/ } @{ $first->{idempotency} }) == 3,
   "$name - each record with its value and time to live");
my @types = map { $_->{type} } @{ $first->{events} };
is_deeply(\@types, [ 'ticket.created', 'ticket.message', 'ticket.message', 'ticket.status', 'ticket.feedback' ],
          "$name - the ticket's events, in order");
is($first->{events}[0]{user}, $d->{eventId}, "$name - the user named by the event id");
ok((grep { ($_->{actor} // '') eq "customer:$d->{eventId}" } @{ $first->{events} }), "$name - the customer's own acts");
my $waiting = $t{ $d->{ids}[4] };
is($waiting->{ticket}{state}, 'queued', "$name - the waiting ticket");
my @last = $r->xrevrange('cs:events', '+', '-', 'COUNT', 1);
my %e = @{ $last[0][1] };
is_deeply(\%e, { type => 'user.exported', actor => 'admin:root', user => $d->{eventId}, tickets => 5 },
          "$name - audited: the admin, the user's event id, the count; nothing personal");
invariants_hold($name);



=== TEST 2: pages of at most 100 tickets through the cursor, each page one call; together every ticket once
--- stored
my $u = 'many';
my @ids;
for (1 .. 130) {
    my $t = intake($u);
    push @ids, $t->{ticketId};
}
my ($st, $b) = export({ userId => $u });
is($st, 200, "$name - 200");
is(scalar @{ $b->{tickets} }, 100, "$name - 100 tickets on the first page");
ok(defined $b->{cursor}, "$name - a cursor");
my @seen = map { $_->{ticket}{id} } @{ $b->{tickets} };
(my $st2, my $b2) = export({ userId => $u, cursor => $b->{cursor} });
is($st2, 200, "$name - the next page: 200");
is(scalar @{ $b2->{tickets} }, 30, "$name - 30 on the second");
is($b2->{cursor}, undef, "$name - the last page");
push @seen, map { $_->{ticket}{id} } @{ $b2->{tickets} };
is_deeply(\@seen, \@ids, "$name - every ticket once, in order");
is(scalar(grep { $_->[1][1] eq 'user.exported' } $r->xrange('cs:events', '-', '+')), 2,
   "$name - each page audited");



=== TEST 3: refusals write nothing: no or a wrong token 401, an agent or a customer 403, no userId, a bad cursor, an unknown field 422; GET 405
--- stored
my $alice = new_agent('alice', 2);
my $t = intake('u1');
my $before = store();
for my $c ([ undef, '{"userId":"u1"}', 401, 'no token' ],
           [ 'x.y.z', '{"userId":"u1"}', 401, 'a wrong token' ],
           [ $alice, '{"userId":"u1"}', 403, 'an agent' ],
           [ $t->{token}, '{"userId":"u1"}', 403, 'a customer' ],
           [ $CsApi::Admin, '{}', 422, 'no userId' ],
           [ $CsApi::Admin, '{"userId":""}', 422, 'an empty userId' ],
           [ $CsApi::Admin, '{"userId":"' . ('x' x 129) . '"}', 422, 'a userId too long' ],
           [ $CsApi::Admin, '{"userId":"u1","cursor":"abc"}', 422, 'a cursor not from a page' ],
           [ $CsApi::Admin, '{"userId":"u1","cursor":"-1"}', 422, 'a negative cursor' ],
           [ $CsApi::Admin, '{"userId":"u1","mode":"erase"}', 422, 'an unknown field' ],
           [ $CsApi::Admin, '{"userId":7}', 422, 'a number for userId' ]) {
    my ($token, $json, $code, $what) = @$c;
    my ($st) = export($json, $token);
    is($st, $code, "$name - $what: $code");
}
my ($st) = CsApi::api(GET => 'users/export', $CsApi::Admin);
is($st, 405, "$name - GET: 405");
is(store(), $before, "$name - nothing written");



=== TEST 4: a user the desk does not know: no tickets, no record (audited all the same); ids that look like keys or patterns touch nothing of others
--- stored
my $t = intake('u1');
# the store but the stream, where each export adds its audit entry
my $dump = sub { join "\n", grep { !/^cs:events / } split /\n/, full_dump() };
my $before = $dump->();
for my $u ('nobody', '*', 'u*', 'cs:ticket:1', '{u1}', 'u?', 'x' x 128) {
    my $shown = substr($u, 0, 12);
    my ($st, $b) = export({ userId => $u });
    is($st, 200, "$name - $shown: 200");
    is_deeply($b->{tickets}, [], "$name - $shown: no tickets");
    is($b->{user}, undef, "$name - $shown: no record");
}
is($dump->(), $before, "$name - no key touched but the stream");
is(scalar(grep { { @{ $_->[1] } }->{type} eq 'user.exported' } $r->xrange('cs:events', '-', '+')), 7,
   "$name - each export audited");
my ($st, $b) = export({ userId => 'u1' });
is(scalar @{ $b->{tickets} }, 1, "$name - u1's own ticket still there");



=== TEST 5: a page stops after the ticket that brings its messages, events and records past 5000, and the next page goes on from there
--- stored
my @ids = map { intake('chatty')->{ticketId} } 1 .. 3;
# a long conversation on the first (written here directly, for speed)
my @m = map { qq({"from":"customer","body":"line $_","at":1,"internal":false}) } 1 .. 5200;
$r->rpush("cs:ticket:$ids[0]:messages", @m[ $_ * 1000 .. ($_ * 1000 + 999 > $#m ? $#m : $_ * 1000 + 999) ]) for 0 .. 5;
my ($st, $b) = export({ userId => 'chatty' });
is_deeply([ map { $_->{ticket}{id} } @{ $b->{tickets} } ], [ $ids[0] ], "$name - the first page: the long ticket alone, whole");
is(scalar @{ $b->{tickets}[0]{messages} }, 5200, "$name - all its messages");
is($b->{cursor}, '1', "$name - a cursor after it");
($st, $b) = export({ userId => 'chatty', cursor => $b->{cursor} });
is_deeply([ map { $_->{ticket}{id} } @{ $b->{tickets} } ], [ @ids[1, 2] ], "$name - the next page: the others");
is($b->{cursor}, undef, "$name - the last");



=== TEST 6: a foreign value at one of the user's tickets' keys fails the page (500, nothing written, not even the audit) instead of leaving part of the user's data out of an answer that looks whole
--- stored
my $t = intake('u6');
api(POST => "tickets/$t->{ticketId}/messages", $t->{token}, '{"body":"six"}');
$r->del("cs:ticket:$t->{ticketId}:messages");
$r->set("cs:ticket:$t->{ticketId}:messages", 'foreign');
my $before = store();
my ($st, $b) = export({ userId => 'u6' });
is($st, 500, "$name - 500");
is($b->{error}, 'internal_error', "$name - internal_error");
is(store(), $before, "$name - nothing written");
