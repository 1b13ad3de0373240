# Logs without personal data: $cs_ticket_id, $cs_agent and
# $cs_user_pseudonym name the ticket, its agent and the user (by the same
# pseudonym set_cs_pseudonym makes) in an access log; after a whole ticket
# life (intake, messages, a note, status, feedback, the agent's and the
# customer's tokens) neither the access log nor any line the module writes
# to the error log, at debug (its most talkative level), holds the user id,
# the email, the issue, a message, the comment or a token.  nginx's own
# debug lines that print request headers and bodies are nginx's: every
# line above debug is checked, and the module's own ("cs:") at debug.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64);

redis_start();

our $Admin = $CsApi::Admin;

# nginx built without --with-debug has no debug level: info is its most
our $Level = `$ENV{TEST_NGINX_BINARY} -V 2>&1` =~ /--with-debug/
             ? 'debug' : 'info';

# set_cs_pseudonym's computation, made here from the secret file's bytes
sub pseudonym {
    my ($in) = @_;
    open my $fh, '<:raw', $ENV{TEST_NGINX_CS_SECRET} or die $!;
    my $key = do { local $/; <$fh> };
    $key =~ s/\r?\n\z//;
    my $b64 = encode_base64(substr(hmac_sha256("pseudonym:$in", $key), 0, 16),
                            '');
    $b64 =~ tr{+/}{-_};
    $b64 =~ s/=+\z//;
    return $b64;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return '';
    local $/;
    return <$fh>;
}

sub log_file { return "$Test::Nginx::Util::ServRoot/logs/$_[0]" }

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('log_level', $Level) unless defined $block->log_level;
});

check_stored_sections();

desk_blocks(['access_log logs/cs.log cs;']);

run_tests();

__DATA__

=== TEST 1: a whole ticket life: the variables name the ticket, its agent and the user's pseudonym; no user id, email, issue, message, comment or token in the access log or in any line the module writes
--- http_config
log_format cs '$request_method $uri $status t=$cs_ticket_id a=$cs_agent u=$cs_user_pseudonym';
--- stored
my %secret = (
    user => 'uid-Qx7Lm2Zp',
    email => 'carla.zq81@example.org',
    issue => 'my invoice 48151 is wrong ISSUE-Vt93',
    customer => 'a question of mine MSG-Kd55',
    reply => 'the answer of an agent MSG-Hp27',
    note => 'an internal note NOTE-Rw40',
    comment => 'kind and quick COMMENT-Yb66',
);
my $alice = new_agent('alice', 5);
my $ticket = JSON::PP->new->canonical->encode({ userId => $secret{user},
    email => $secret{email}, issue => $secret{issue} });
my ($st, $t) = api(POST => 'service', undef, $ticket);
is($st, 201, "$name - intake: 201");
my $id = $t->{ticketId};
my $tok = $t->{token};
is($t->{agent}, 'alice', "$name - assigned to alice");
($st) = api(POST => "tickets/$id/messages", $tok,
            qq({"body":"$secret{customer}"}));
is($st, 201, "$name - the customer's message");
($st) = api(POST => "tickets/$id/messages", $alice,
            qq({"body":"$secret{reply}"}));
is($st, 201, "$name - the agent's reply");
($st) = api(POST => "tickets/$id/messages", $alice,
            qq({"body":"$secret{note}","internal":true}));
is($st, 201, "$name - the agent's note");
($st) = api(POST => "tickets/$id/status", $alice, '{"state":"solved"}');
is($st, 200, "$name - solved");
($st) = api(POST => "tickets/$id/feedback", $tok,
            qq({"csat":4,"comment":"$secret{comment}"}));
is($st, 201, "$name - feedback");
(my $gst, my $g) = api(GET => "tickets/$id", $tok);
is($gst, 200, "$name - the customer reads the ticket");
is($g->{issue}, $secret{issue}, "$name - the issue is the customer's");
($gst) = api(GET => "tickets/$id", $alice);
is($gst, 200, "$name - the agent reads the ticket");
($gst) = api(GET => "tickets/$id", $main::Admin);
is($gst, 200, "$name - the admin reads the ticket");

# the log line is written after the answer: wait for all ten and the GET me
my $file = main::log_file('cs.log');
ok(CsTest::wait_until(sub { (() = main::slurp($file) =~ /\n/g) >= 12 }, 10),
   "$name - every request is logged");
my $log = main::slurp($file);
my $p = main::pseudonym($secret{user});
like($log, qr{^POST /api/service 201 t=\Q$id\E a=alice u=\Q$p\E$}m,
     "$name - intake: the new id, its agent, the user's pseudonym");
like($log, qr{^POST /api/tickets/$id/messages 201 t=$id a=alice u=-$}m,
     "$name - a message: the ticket and its agent");
like($log, qr{^POST /api/tickets/$id/status 200 t=$id a=alice u=-$}m,
     "$name - the status: the ticket and its agent");
like($log, qr{^POST /api/tickets/$id/feedback 201 t=$id a=- u=-$}m,
     "$name - feedback: the ticket");
my @gets = $log =~ m{^GET /api/tickets/$id 200 t=$id a=alice u=\Q$p\E$}mg;
is(scalar @gets, 3, "$name - reading it: ticket, agent, user's pseudonym");
like($log, qr{^GET /api/me 200 t=- a=- u=-$}m,
     "$name - no ticket: every variable is empty");

# the module's lines at every level, and every line above debug
my @lines = split /\n/, main::slurp(main::log_file('error.log'));
my @ours = grep { / cs: / || !/\[debug\]/ } @lines;
ok(scalar(grep { / cs: / } @ours) > 0, "$name - the module wrote lines")
    if $main::Level eq 'debug';
for my $what (sort keys %secret) {
    unlike($log, qr/\Q$secret{$what}\E/, "$name - no $what in the access log");
    my @bad = grep { /\Q$secret{$what}\E/ } @ours;
    is(scalar @bad, 0, "$name - no $what in the module's log lines")
        or diag(join "\n", @bad);
}
for my $token ([customer => $tok], [agent => $alice], [admin => $main::Admin]) {
    unlike($log, qr/\Q$token->[1]\E/,
           "$name - no $token->[0] token in the access log");
    is(scalar(grep { /\Q$token->[1]\E/ } @ours), 0,
       "$name - no $token->[0] token in the module's log lines");
}
--- response_body_like: "role":"admin"
