# Encryption at rest (cs_encrypt_key file [old_file ...]): the issue, the
# email, every message body and the feedback comment are stored as
# AES-256-GCM in fields of their own ("v1:<key id>:<base64url>"), and the
# API answers them decrypted; nothing in the store (a full SCAN, here
# only) holds their plaintext.  Rules still match, idempotency still
# holds.  Keys rotate: tickets written under each of three keys are read
# after two rotations.  A value copied to another ticket or another field,
# or altered, is a 500 internal_error with one log line, never garbage.
# nginx -t refuses a bad key file, naming it; without the directive the
# store is as it was.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use CsApi;
use Digest::SHA qw(sha256_hex sha1_hex hmac_sha256 hmac_sha256_hex);
use File::Temp qw(tempdir);
use JSON::PP;

no_shuffle();

redis_start();

our $Admin = $CsApi::Admin;

my $dir = tempdir('cs-encrypt-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our %KeyId;
for my $n (1 .. 3) {
    my $hex = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;
    open my $fh, '>', "$dir/key$n" or die;
    print $fh "$hex\n";
    close $fh;
    chmod 0600, "$dir/key$n";
    $ENV{"TEST_NGINX_CS_KEY$n"} = "$dir/key$n";
    $KeyId{$n} = substr(sha256_hex(pack 'H*', $hex), 0, 8);
}
for my $bad ([short => 'abcd' x 8], [nothex => 'zz' x 32],
             [long => 'ab' x 33]) {
    open my $fh, '>', "$dir/$bad->[0]" or die;
    print $fh "$bad->[1]\n";
    close $fh;
}
$ENV{TEST_NGINX_CS_KEYDIR} = $dir;

# the customer's words of the tests, all of them unique in the store
our %Words;
sub words {
    my ($tag) = @_;
    my $r = int rand 1e9;
    return { user => "uid-$tag-$r", email => "w$tag$r\@example.org",
             issue => "my refund for order $tag-$r is late",
             customer => "still waiting $tag-$r", reply => "on its way $tag-$r",
             note => "courier called $tag-$r", comment => "thanks $tag-$r" };
}

# a ticket's whole life in words $w: intake, a customer's message, a reply,
# a note, solved, feedback; (id, customer token)
sub life {
    my ($w, $alice) = @_;
    my ($st, $t) = CsApi::api(POST => 'service', undef,
        JSON::PP->new->canonical->encode({ userId => $w->{user},
            email => $w->{email}, issue => $w->{issue},
            category => 'shipping' }));
    die "intake: $st\n" unless $st == 201;
    my ($id, $tok) = ($t->{ticketId}, $t->{token});
    CsApi::api(POST => "tickets/$id/assign", $Admin, '{"agent":"alice"}')
        if ($t->{agent} // '') ne 'alice';
    for ([$tok, $w->{customer}, 0], [$alice, $w->{reply}, 0],
         [$alice, $w->{note}, 1])
    {
        my ($mst) = CsApi::api(POST => "tickets/$id/messages", $_->[0],
            JSON::PP->new->encode({ body => $_->[1],
                                    internal => $_->[2] ? JSON::PP::true
                                                        : JSON::PP::false }));
        die "message: $mst\n" unless $mst == 201;
    }
    my ($sst) = CsApi::api(POST => "tickets/$id/status", $alice,
                           '{"state":"solved"}');
    die "status: $sst\n" unless $sst == 200;
    my ($fst) = CsApi::api(POST => "tickets/$id/feedback", $tok,
                           qq({"csat":4,"comment":"$w->{comment}"}));
    die "feedback: $fst\n" unless $fst == 201;
    return ($id, $tok);
}

# the API gives back every word of the life, decrypted
sub reads_back {
    my ($name, $id, $w) = @_;
    my ($st, $g) = CsApi::api(GET => "tickets/$id", $Admin);
    Test::More::is($st, 200, "$name - GET tickets/$id: 200");
    Test::More::is($g->{issue}, $w->{issue}, "$name - ticket $id: the issue");
    Test::More::is($g->{email}, $w->{email}, "$name - ticket $id: the email");
    Test::More::is_deeply([ map { $_->{body} } @{ $g->{messages} || [] } ],
                          [ @$w{qw(customer reply note)} ],
                          "$name - ticket $id: the messages");
}

# the idempotency fingerprint of the parts under key file $n, computed
# here as the module always made it: HMAC-SHA256 under the key's
# fingerprint key (HMAC-SHA256 of "cs_encrypt_key fingerprint" under the
# key) of each part length-prefixed, in hex
sub fingerprint {
    my ($n, @parts) = @_;
    open my $fh, '<', $ENV{"TEST_NGINX_CS_KEY$n"} or die;
    chomp(my $hex = <$fh>);
    my $fp_key = hmac_sha256('cs_encrypt_key fingerprint', pack 'H*', $hex);
    return hmac_sha256_hex(join('', map { length($_) . ":$_" } @parts),
                           $fp_key);
}

# the sealed form of the store
sub sealed_by {
    my ($v) = @_;
    return ($v // '') =~ /^v1:([0-9a-f]{8}):[A-Za-z0-9_-]+$/ ? $1 : undef;
}

sub no_plaintext {
    my ($name, @words) = @_;
    my $all = CsApi::store();
    for my $w (@words) {
        for my $k (qw(issue email customer reply note comment)) {
            Test::More::unlike($all, qr/\Q$w->{$k}\E/,
                               "$name - no $k in the store");
        }
    }
}

check_stored_sections();

desk_blocks(['cs_encrypt_key $TEST_NGINX_CS_KEY1;',
             'cs_rule refund "(?i)money back" "Refunds take 5 days" billing;']);

run_tests();

__DATA__

=== TEST 1: a whole ticket life is stored sealed in fields of its own, no plaintext anywhere; the API answers it decrypted
--- stored
my $alice = new_agent('alice', 5);
my $w = main::words('a');
my ($id, $tok) = main::life($w, $alice);
my $h = { $r->hgetall("cs:ticket:$id") };
ok(!exists $h->{$_}, "$name - no plaintext field $_")
    for qw(issue email feedbackComment);
is(main::sealed_by($h->{$_}), $main::KeyId{1}, "$name - $_ sealed by key 1")
    for qw(issue_enc email_enc feedbackComment_enc);
like($h->{seal}, qr/^[A-Za-z0-9_-]{16,}$/, "$name - the ticket's seal");
my @m = map { decode_json($_) } $r->lrange("cs:ticket:$id:messages", 0, -1);
is(scalar(grep { !exists $_->{body} && main::sealed_by($_->{body_enc}) } @m),
   3, "$name - every body sealed, none plain");
main::no_plaintext($name, $w);
main::reads_back($name, $id, $w);
my ($st, $c) = api(GET => "tickets/$id", $tok);
is($c->{issue}, $w->{issue}, "$name - the customer reads the issue");
is_deeply([ map { $_->{body} } @{ $c->{messages} } ],
          [ @$w{qw(customer reply)} ], "$name - and the public messages");
($st, my $l) = api(GET => 'tickets?limit=100', $main::Admin);
is((grep { $_->{ticketId} == $id } @{ $l->{tickets} })[0]{issue}, $w->{issue},
   "$name - GET tickets: the issue");
invariants_hold($name);



=== TEST 2: rules match before encryption; an intake and a message replayed with their Idempotency-Key answer as the first time, another body is 409
--- stored
my $alice = new_agent('alice', 5);
my $ticket = '{"userId":"u-rule","issue":"I want my money back, order 7731"}';
my %idem = ('Idempotency-Key' => 'k-1');
my ($st, $t) = api(POST => 'service', undef, $ticket, \%idem);
is($st, 201, "$name - intake: 201");
is($t->{state}, 'auto_resolved', "$name - the rule answered");
is($t->{answer}, 'Refunds take 5 days', "$name - with its answer");
my ($st2, $t2) = api(POST => 'service', undef, $ticket, \%idem);
is($st2, 201, "$name - replayed: 201");
is($t2->{ticketId}, $t->{ticketId}, "$name - the same ticket");
my ($st3) = api(POST => 'service', undef,
                '{"userId":"u-rule","issue":"another thing"}', \%idem);
is($st3, 409, "$name - another issue, same key: 409");
my $id = $t->{ticketId};
my %mk = ('Idempotency-Key' => 'm-1');
my ($ms, $m1) = api(POST => "tickets/$id/messages", $t->{token},
                    '{"body":"it did not help 7731"}', \%mk);
is($ms, 201, "$name - a message: 201");
is($m1->{message}{body}, 'it did not help 7731', "$name - its body, decrypted");
my ($ms2, $m2) = api(POST => "tickets/$id/messages", $t->{token},
                     '{"body":"it did not help 7731"}', \%mk);
is($ms2, 201, "$name - replayed: 201");
is_deeply($m2, $m1, "$name - the first answer");
is($r->llen("cs:ticket:$id:messages"), 1, "$name - stored once");
my ($ms3) = api(POST => "tickets/$id/messages", $t->{token},
                '{"body":"something else"}', \%mk);
is($ms3, 409, "$name - another body, same key: 409");
my (undef, $q) = api(GET => 'agents/alice/queue', $alice);
is_deeply([ map { $_->{issue} } @{ $q->{tickets} || [] } ],
          ['I want my money back, order 7731'],
          "$name - reopened, in alice's queue: the issue decrypted");
unlike(CsApi::store(), qr/money back|7731|did not help/,
       "$name - no plaintext in the store");



=== TEST 3: a sealed issue copied to another ticket does not open: 500 internal_error, one log line, no garbage
--- stored
my $alice = new_agent('alice', 5);
my ($a) = main::life(main::words('c1'), $alice);
my ($b) = main::life(main::words('c2'), $alice);
$r->hset("cs:ticket:$b", 'issue_enc', $r->hget("cs:ticket:$a", 'issue_enc'));
my ($st, $g) = api(GET => "tickets/$b", $main::Admin);
is($st, 500, "$name - 500");
is(ref $g eq 'HASH' && $g->{error}, 'internal_error', "$name - internal_error");
my ($sa) = api(GET => "tickets/$a", $main::Admin);
is($sa, 200, "$name - the original still opens");
--- error_log
a stored "issue" does not decrypt: the value, its ticket or its field was altered



=== TEST 4: a sealed issue moved to the email field of its own ticket does not open
--- stored
my $alice = new_agent('alice', 5);
my ($a) = main::life(main::words('d'), $alice);
$r->hset("cs:ticket:$a", 'email_enc', $r->hget("cs:ticket:$a", 'issue_enc'));
my ($st, $g) = api(GET => "tickets/$a", $main::Admin);
is($st, 500, "$name - 500");
is(ref $g eq 'HASH' && $g->{error}, 'internal_error', "$name - internal_error");
--- error_log
a stored "email" does not decrypt



=== TEST 5: a sealed message copied to another ticket's messages does not open; nor a comment put in as a body
--- stored
my $alice = new_agent('alice', 5);
my ($a) = main::life(main::words('e1'), $alice);
my ($b) = main::life(main::words('e2'), $alice);
my $m = $r->lindex("cs:ticket:$a:messages", 0);
$r->rpush("cs:ticket:$b:messages", $m);
my ($st, $g) = api(GET => "tickets/$b", $main::Admin);
is($st, 500, "$name - another ticket's message: 500");
is(ref $g eq 'HASH' && $g->{error}, 'internal_error', "$name - internal_error");
$r->rpop("cs:ticket:$b:messages");
my ($ok) = api(GET => "tickets/$b", $main::Admin);
is($ok, 200, "$name - taken out: 200 again");
my $j = decode_json($r->lindex("cs:ticket:$b:messages", 0));
$j->{body_enc} = $r->hget("cs:ticket:$b", 'feedbackComment_enc');
$r->lset("cs:ticket:$b:messages", 0, encode_json($j));
($st) = api(GET => "tickets/$b", $main::Admin);
is($st, 500, "$name - its own comment as a body: 500");
--- error_log
a stored "body" does not decrypt



=== TEST 6: a sealed value altered by one character does not open
--- stored
my $alice = new_agent('alice', 5);
my ($a) = main::life(main::words('f'), $alice);
my $v = $r->hget("cs:ticket:$a", 'issue_enc');
substr($v, -5, 1) = substr($v, -5, 1) eq 'A' ? 'B' : 'A';
$r->hset("cs:ticket:$a", 'issue_enc', $v);
my ($st, $g) = api(GET => "tickets/$a", $main::Admin);
is($st, 500, "$name - 500");
is(ref $g eq 'HASH' && $g->{error}, 'internal_error', "$name - internal_error");
unlike(ref $g ? encode_json($g) : $g, qr/refund for order/, "$name - no garbage, no plaintext");
--- error_log
a stored "issue" does not decrypt



=== TEST 7: rotation, step 0: tickets written under key 1
--- stored
my $alice = new_agent('alice', 5);
$main::R{alice} = $alice;
$main::R{w1} = main::words('r1');
($main::R{id1}) = main::life($main::R{w1}, $alice);
is(main::sealed_by($r->hget("cs:ticket:$main::R{id1}", 'issue_enc')),
   $main::KeyId{1}, "$name - sealed by key 1");



=== TEST 8: rotation, step 1: cs_encrypt_key key2 key1 writes with key 2 and reads both
--- init
1;
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_KEY2 $TEST_NGINX_CS_KEY1;
}
--- stored
$main::R{w2} = main::words('r2');
($main::R{id2}) = main::life($main::R{w2}, $main::R{alice});
is(main::sealed_by($r->hget("cs:ticket:$main::R{id2}", 'issue_enc')),
   $main::KeyId{2}, "$name - a new ticket sealed by key 2");
main::reads_back($name, $main::R{id1}, $main::R{w1});
main::reads_back($name, $main::R{id2}, $main::R{w2});



=== TEST 9: rotation, step 2: cs_encrypt_key key3 key2 key1 writes with key 3 and reads all three
--- init
1;
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_KEY3 $TEST_NGINX_CS_KEY2 $TEST_NGINX_CS_KEY1;
}
--- stored
$main::R{w3} = main::words('r3');
($main::R{id3}) = main::life($main::R{w3}, $main::R{alice});
is(main::sealed_by($r->hget("cs:ticket:$main::R{id3}", 'issue_enc')),
   $main::KeyId{3}, "$name - a new ticket sealed by key 3");
main::reads_back($name, $main::R{"id$_"}, $main::R{"w$_"}) for 1 .. 3;
main::no_plaintext($name, map { $main::R{"w$_"} } 1 .. 3);



=== TEST 10: a key dropped from the list: its tickets answer 500 with a log line naming why, the others still open
--- init
1;
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_KEY3;
}
--- stored
my ($st, $g) = api(GET => "tickets/$main::R{id1}", $main::Admin);
is($st, 500, "$name - key 1's ticket: 500");
main::reads_back($name, $main::R{id3}, $main::R{w3});
--- error_log
sealed with a key cs_encrypt_key does not list



=== TEST 11: without cs_encrypt_key the store is as it was: plain fields, no seal
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
}
--- stored
my $alice = new_agent('alice', 5);
my $w = main::words('p');
my ($id) = main::life($w, $alice);
my $h = { $r->hgetall("cs:ticket:$id") };
is($h->{issue}, $w->{issue}, "$name - issue");
is($h->{email}, $w->{email}, "$name - email");
is($h->{feedbackComment}, $w->{comment}, "$name - comment");
is(scalar(grep { /_enc$|^seal$/ } keys %$h), 0, "$name - no sealed field, no seal");
my @m = map { decode_json($_) } $r->lrange("cs:ticket:$id:messages", 0, -1);
is_deeply([ map { $_->{body} } @m ], [ @$w{qw(customer reply note)} ],
          "$name - plain bodies");
is(scalar(grep { exists $_->{body_enc} } @m), 0, "$name - none sealed");
main::reads_back($name, $id, $w);



=== TEST 12: nginx -t refuses a key file that is not 64 hex characters, naming it
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_KEYDIR/short;
}
--- must_die
--- error_log eval
qr{cs_encrypt_key file ".*/short" must hold 64 hex characters}



=== TEST 13: nginx -t refuses a key file of other characters
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_KEY1 $TEST_NGINX_CS_KEYDIR/nothex;
}
--- must_die
--- error_log eval
qr{cs_encrypt_key file ".*/nothex" must hold 64 hex characters}



=== TEST 14: nginx -t refuses a key file that is too long
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_KEYDIR/long;
}
--- must_die
--- error_log eval
qr{cs_encrypt_key file ".*/long" must hold 64 hex characters}



=== TEST 15: nginx -t refuses a missing key file, naming it
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_KEYDIR/missing;
}
--- must_die
--- error_log eval
qr{cs_encrypt_key file ".*/missing" cannot be opened}



=== TEST 16: two locations of one desk with different keys: nginx -t refuses
--- config
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_KEY1;
}
location /api2/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_encrypt_key $TEST_NGINX_CS_KEY2;
}
--- must_die
--- error_log
"cs_encrypt_key" differs between the cs_api locations



=== TEST 17: an intake and a message under an Idempotency-Key: the message's record holds the digest of the fingerprint made as before (HMAC under the key's fingerprint key, computed here)
--- stored
new_agent('alice', 5);
my ($st, $t) = api(POST => 'service', undef,
                   '{"userId":"u-fp","issue":"the parcel 5512 is lost","email":"fp@example.org"}',
                   { 'Idempotency-Key' => 'k-fp' });
is($st, 201, "$name - intake: 201");
my $id = $t->{ticketId};
my ($ms, $m) = api(POST => "tickets/$id/messages", $t->{token},
                   '{"body":"any news on 5512?"}', { 'Idempotency-Key' => 'm-fp' });
is($ms, 201, "$name - a message: 201");
my (undef, $digest) = split /:/, $r->get("cs:ticket:$id:idem:m-fp");
is($digest, sha1_hex("customer:$id:0:" . main::fingerprint(1, 'any news on 5512?')),
   "$name - the record's digest: the fingerprint as the module made it before");
%main::FP = (id => $id, intake => $t, message => $m);



=== TEST 18: after a restart (new workers, their HMAC states built anew) the intake and the message replayed with their Idempotency-Key answer as the first time; other words under the keys are 409
--- init
1;
--- stored
my ($st, $t) = api(POST => 'service', undef,
                   '{"userId":"u-fp","issue":"the parcel 5512 is lost","email":"fp@example.org"}',
                   { 'Idempotency-Key' => 'k-fp' });
is($st, 201, "$name - intake replayed: 201");
is($t->{ticketId}, $main::FP{id}, "$name - the same ticket");
is($t->{token}, $main::FP{intake}{token}, "$name - the same token");
my $id = $main::FP{id};
my ($ms, $m) = api(POST => "tickets/$id/messages", $t->{token},
                   '{"body":"any news on 5512?"}', { 'Idempotency-Key' => 'm-fp' });
is($ms, 201, "$name - message replayed: 201");
is_deeply($m, $main::FP{message}, "$name - the first answer");
is($r->llen("cs:ticket:$id:messages"), 1, "$name - stored once");
($st) = api(POST => 'service', undef,
            '{"userId":"u-fp","issue":"the parcel 5512 is found","email":"fp@example.org"}',
            { 'Idempotency-Key' => 'k-fp' });
is($st, 409, "$name - another issue under the intake's key: 409");
($ms) = api(POST => "tickets/$id/messages", $t->{token},
            '{"body":"found it"}', { 'Idempotency-Key' => 'm-fp' });
is($ms, 409, "$name - another body under the message's key: 409");
