# cs_api: the endpoint table below a prefix, the roles and the order of
# the checks.  The intake answers v1's body plus the customer's token; the
# token opens its own ticket only, and never a ticket that reused its id;
# admins are named by the cs_admin_keys file; X-CS-User proves a userId.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use Digest::SHA qw(sha256_hex hmac_sha256);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64url);

redis_start();

# the desk's secret and admin keys, in files as an operator makes them
my $dir = tempdir(CLEANUP => 1);
our $Secret = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;
open my $s, '>', "$dir/cs.secret" or die;
print $s "$Secret\n";
close $s;
our $AdminKey = 'the-admins-key-' . int(rand(1e9));
open my $k, '>', "$dir/admin.keys" or die;
print $k "# name sha256hex\nalice " . sha256_hex($AdminKey) . "\n";
close $k;
$ENV{TEST_NGINX_CS_SECRET} = "$dir/cs.secret";
$ENV{TEST_NGINX_CS_ADMIN_KEYS} = "$dir/admin.keys";

# the proof a site computes for its logged-in user
sub proof { encode_base64url(hmac_sha256("user:$_[0]", $Secret)) }

# one call to the test server: (status, decoded body or raw text, headers)
sub api {
    my ($method, $path, %h) = @_;
    my $body = delete $h{body};
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    my $res = HTTP::Tiny->new(timeout => CsTest::valgrind() ? 30 : 10)
        ->request($method, "http://127.0.0.1:$port$path",
                  { headers => { %h }, defined $body ? (content => $body)
                                                     : () });
    my $json = eval { JSON::PP->new->utf8->decode($res->{content}) };
    return ($res->{status}, $json // $res->{content}, $res->{headers});
}

sub bearer { return (Authorization => "Bearer $_[0]") }

# --- stored: Perl run after each response (see t/lib/CsCheck.pm)
check_stored_sections();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;
    $block->set_value('config', <<'CONF') unless defined $block->config;
location /api/ {
    cs_api;
    cs_secret $TEST_NGINX_CS_SECRET;
    cs_admin_keys $TEST_NGINX_CS_ADMIN_KEYS;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
    cs_cors_origin https://app.example;
}
CONF
});

run_tests();

__DATA__

=== TEST 1: the intake below cs_api answers v1's body plus the customer's token, and stores the token's nonce
--- request
POST /api/service
{"userId":"u1","issue":"I cannot log in"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like: ^\{"status":"success","message":"Request received and processed\.","ticketId":1,"agent":"agent1","state":"assigned","token":"c\.1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"\}$
--- stored
my ($nonce) = $body =~ /"token":"c\.1\.([^.]+)\./;
is($r->hget('cs:ticket:1', 'nonce'), $nonce, "$name - the nonce is stored");
unlike(join(' ', $r->hvals('cs:ticket:1')), qr/c\.1\.$nonce\./,
       "$name - the token itself is not stored");



=== TEST 2: the customer's token opens its own ticket; GET me names it
--- request
POST /api/service
{"userId":"u1","issue":"where is my order?","email":"u1@example.com"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- stored
my ($token) = $body =~ /"token":"([^"]+)"/;
my ($st, $t) = main::api(GET => '/api/tickets/1', main::bearer($token));
is($st, 200, "$name - 200");
is($t->{status}, 'success', "$name - success");
is($t->{ticketId}, 1, "$name - ticketId");
is($t->{userId}, 'u1', "$name - userId");
is($t->{issue}, 'where is my order?', "$name - issue");
is($t->{email}, 'u1@example.com', "$name - email");
is($t->{state}, 'assigned', "$name - state");
is($t->{agent}, 'agent1', "$name - agent");
is($t->{priority}, 'normal', "$name - priority");
is($t->{channel}, 'api', "$name - channel");
ok(!defined $t->{category}, "$name - no category is null");
ok($t->{createdAt} > 1.7e12, "$name - createdAt in ms");
is_deeply($t->{messages}, [], "$name - no messages yet");
ok(!exists $t->{customer}, "$name - a customer gets no customer history");
($st, my $me) = main::api(GET => '/api/me', main::bearer($token));
is($st, 200, "$name - me 200");
is_deeply($me, { status => 'success', role => 'customer', name => 1 },
          "$name - me: the ticket id, as a number");



=== TEST 3: an admin key opens any ticket and sees the customer's other tickets; GET me names the admin
--- init
CsTest::flush_redis();
CsTest::post_ticket('{"userId":"u7","issue":"first","category":"billing"}',
                    path => '/api/service');
CsTest::post_ticket('{"userId":"u7","issue":"second"}',
                    path => '/api/service');
--- request
POST /api/service
{"userId":"u7","issue":"third"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- stored
my ($st, $t) = main::api(GET => '/api/tickets/3', main::bearer($main::AdminKey));
is($st, 200, "$name - 200");
is($t->{issue}, 'third', "$name - the ticket");
is_deeply($t->{customer},
          [ { ticketId => 2, category => undef, state => 'assigned', csat => undef },
            { ticketId => 1, category => 'billing', state => 'assigned', csat => undef } ],
          "$name - the user's other tickets, latest first");
($st, my $me) = main::api(GET => '/api/me', main::bearer($main::AdminKey));
is_deeply($me, { status => 'success', role => 'admin', name => 'alice' },
          "$name - me: the admin's name from cs_admin_keys");



=== TEST 4: a customer's token for another ticket is 401; a forged token is 401 whether or not the ticket exists
--- init
CsTest::flush_redis();
CsTest::post_ticket('{"userId":"u1","issue":"mine"}', path => '/api/service');
--- request
POST /api/service
{"userId":"u2","issue":"theirs"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- stored
my ($token) = $body =~ /"token":"([^"]+)"/;
my ($st, $e, $h) = main::api(GET => '/api/tickets/1', main::bearer($token));
is($st, 401, "$name - another ticket: 401");
is($e->{error}, 'unauthorized', "$name - unauthorized");
is($h->{'www-authenticate'}, 'Bearer', "$name - WWW-Authenticate: Bearer");
(my $forged = $token) =~ s/\.(.)([^.]*)$/'.' . ($1 eq 'A' ? 'B' : 'A') . $2/e;
($st) = main::api(GET => '/api/tickets/2', main::bearer($forged));
is($st, 401, "$name - a forged MAC on an existing ticket: 401");
(my $other = $forged) =~ s/^c\.2\./c.99./;
($st) = main::api(GET => '/api/tickets/99', main::bearer($other));
is($st, 401, "$name - a forged token for a missing ticket: 401, not 404");
($st, $e) = main::api(GET => '/api/tickets/99', main::bearer($main::AdminKey));
is($st, 404, "$name - an admin asking for a missing ticket: 404");
is($e->{error}, 'not_found', "$name - not_found");



=== TEST 5: a token never opens a ticket that reused its id
--- request
POST /api/service
{"userId":"u1","issue":"before the loss"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- stored
my ($token) = $body =~ /"token":"([^"]+)"/;
# a Redis that lost its last writes: the ticket and the sequence are gone
$r->del('cs:ticket:1', 'cs:ticket:seq');
my ($st, $b) = main::api(POST => '/api/service',
                         'Content-Type' => 'application/json',
                         body => '{"userId":"u9","issue":"after the loss"}');
is($b->{ticketId}, 1, "$name - the id is handed out again");
($st) = main::api(GET => '/api/tickets/1', main::bearer($token));
is($st, 401, "$name - the old token does not open the new ticket");
($st) = main::api(GET => '/api/me', main::bearer($token));
is($st, 401, "$name - nor does it name a caller");



=== TEST 6: every kind of missing or wrong credential is 401 with WWW-Authenticate, and writes nothing
--- request eval
[ ("GET /api/tickets/1") x 6 ]
--- more_headers eval
[ "",
  "Authorization: Basic dXNlcjpwYXNz",
  "Authorization: Bearer",
  "Authorization: Bearer not-a-key",
  "Authorization: Bearer c.1.x.y",
  "Authorization: Bearer a.agent1.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" ]
--- error_code eval
[ (401) x 6 ]
--- response_headers eval
[ ("WWW-Authenticate: Bearer") x 6 ]
--- response_body eval
[ ('{"status":"error","error":"unauthorized","message":"send valid credentials as Authorization: Bearer <token>"}') x 6 ]
--- stored
is_deeply([ CsTest::redis_keys() ], [], "$name - nothing written");



=== TEST 7: the route comes first: an unknown path is 404 and a wrong method 405 with Allow, without credentials or with a bad one
--- request eval
[ "GET /api/nothing", "DELETE /api/tickets/1", "GET /api/service",
  "PUT /api/me", "GET /api/tickets/1/x", "GET /api/" ]
--- more_headers eval
[ "", "Authorization: Bearer nonsense", "", "Authorization: Bearer nonsense",
  "", "Authorization: Bearer nonsense" ]
--- error_code eval
[404, 405, 405, 405, 404, 404]
--- response_headers eval
[ "!Allow", "Allow: GET, OPTIONS", "Allow: POST, OPTIONS",
  "Allow: GET, OPTIONS", "!Allow", "!Allow" ]
--- response_body_like eval
[ '"error":"not_found"', '"error":"method_not_allowed"',
  '"error":"method_not_allowed"', '"error":"method_not_allowed"',
  '"error":"not_found"', '"error":"not_found"' ]



=== TEST 8: a bad {id} is 404 before the credentials: not digits, 16 digits, zero
--- request eval
[ "GET /api/tickets/abc", "GET /api/tickets/1234567890123456",
  "GET /api/tickets/0", "GET /api/tickets/-1", "GET /api/tickets/1.5" ]
--- error_code eval
[ (404) x 5 ]
--- response_body_like eval
[ ('"error":"not_found"') x 5 ]



=== TEST 9: credentials come before the content type and the body: no token with a wrong content type is 401, a valid one then gets 415
--- request eval
[ "PUT /api/agents/x\nnot json", "PUT /api/agents/x\nnot json" ]
--- more_headers eval
[ "Content-Type: text/plain", "Content-Type: text/plain\nAuthorization: Bearer $main::AdminKey" ]
--- error_code eval
[401, 415]
--- response_body_like eval
[ '"error":"unauthorized"', '"error":"unsupported_media_type"' ]
--- stored
is_deeply([ CsTest::redis_keys() ], [], "$name - nothing written");



=== TEST 10: X-CS-User: a right proof is recorded with the ticket, a wrong one is 401 and writes nothing
--- request eval
[ "POST /api/service\n{\"userId\":\"u42\",\"issue\":\"proven\"}",
  "POST /api/service\n{\"userId\":\"u43\",\"issue\":\"not proven\"}",
  "POST /api/service\n{\"userId\":\"u44\",\"issue\":\"claimed\"}" ]
--- more_headers eval
[ "Content-Type: application/json\nX-CS-User: " . main::proof('u42'),
  "Content-Type: application/json",
  "Content-Type: application/json\nX-CS-User: " . main::proof('u42') ]
--- error_code eval
[201, 201, 401]
--- response_body_like eval
[ '"ticketId":1,', '"ticketId":2,',
  '^\{"status":"error","error":"unauthorized","message":"X-CS-User is not a proof of this userId"\}$' ]
--- stored
if ($req_idx == 2) {
    is($r->hget('cs:ticket:1', 'userProven'), '1', "$name - proven, recorded");
    ok(!defined $r->hget('cs:ticket:2', 'userProven'), "$name - unproven");
    is($r->get('cs:ticket:seq'), 2, "$name - the wrong proof wrote nothing");
}



=== TEST 11: the preflight of a cs_api location allows its methods and the Authorization and X-CS-User headers
--- request
OPTIONS /api/tickets/1
--- more_headers
Origin: https://app.example
Access-Control-Request-Method: GET
Access-Control-Request-Headers: authorization
--- error_code: 204
--- response_headers
Access-Control-Allow-Origin: https://app.example
Access-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS
Access-Control-Allow-Headers: Content-Type, Idempotency-Key, Authorization, X-CS-User



=== TEST 12: an Idempotency-Key replay returns the first answer's body, the token included
--- request eval
[ "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"twice\"}",
  "POST /api/service\n{\"userId\":\"u1\",\"issue\":\"twice\"}" ]
--- more_headers
Content-Type: application/json
Idempotency-Key: same-key
--- error_code eval
[201, 201]
--- stored
our %Seen;
$Seen{$name} = $body if $req_idx == 0;
is($body, $Seen{$name}, "$name - the same body, token and all") if $req_idx == 1;



=== TEST 13: no token, admin key or secret reaches a log line the module writes, nor any line at notice or above
--- request
POST /api/service
{"userId":"u-log","issue":"keep my secrets"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- stored
my ($token) = $body =~ /"token":"([^"]+)"/;
main::api(GET => '/api/tickets/1', main::bearer($token));
main::api(GET => '/api/me', main::bearer($main::AdminKey));
main::api(GET => '/api/tickets/1', main::bearer($token . 'x'));
open my $fh, '<', Test::Nginx::Util::server_root() . '/logs/error.log' or die;
my @bad;
for my $line (<$fh>) {
    next unless index($line, $token) >= 0 || index($line, $main::AdminKey) >= 0
                || index($line, $main::Secret) >= 0;
    # nginx's own debug lines print the request's headers: nginx's, not ours
    next if $line =~ /\[debug\] .*(?:http header: |http alloc large header)/;
    push @bad, $line;
}
is("@bad", '', "$name - no secret in the module's lines or above debug");
