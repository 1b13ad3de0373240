# What the duplicate-key check costs: its hash is keyed with a secret per
# worker, so no body can make its keys collide; an object's keys are let go
# when it closes; and an object has at most 256 keys.  The work is read from
# the validator's debug line, "cs: json: K keys, P probes": K the most keys
# held at once, P the hash slots looked at (at least one per key).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;

redis_start();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', <<'CONF') unless defined $block->config;
location = /api/service {
    cs_service;
    cs_redis_server 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
}
CONF

    $block->set_value('more_headers', 'Content-Type: application/json')
        unless defined $block->more_headers;

    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;

    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]\n[emerg]")
        unless defined $block->no_error_log;
});


# The slot the old check gave a key of the root object: FNV-1a seeded with
# its offset basis ^ the object's number (1), masked to the table's size,
# 512 slots from the 129th key to the 256th.  Only the low 16 bits are
# computed: the low bits of a product depend on the low bits of its factors
# alone.
sub old_slot {
    my ($key) = @_;
    my $h = (0x2325 ^ 1);

    for my $c (unpack 'C*', $key) {
        $h = (($h ^ $c) * 0x01b3) & 0xffff;
    }

    return $h & 0x1ff;
}

# 200 keys of 8 bytes that all had the same slot: the old check looked at
# 1 + 2 + ... + 200 slots for them
our @colliding;
for (my $i = 0; @colliding < 200; $i++) {
    my $key = sprintf 'c%07d', $i;
    push @colliding, $key if old_slot($key) == 0;
}

our @ordinary = map { sprintf 'k%07d', $_ } 1 .. 200;

# SipHash-2-4, as the validator hashes a key, here with a key of zeros: what
# a worker that was never seeded would use
sub sip_rotl {
    use integer;
    my ($x, $b) = @_;
    return ($x << $b) | (($x >> (64 - $b)) & ((1 << $b) - 1));
}

sub sip_round {
    use integer;
    my ($v0, $v1, $v2, $v3) = @_;
    $v0 += $v1; $v1 = sip_rotl($v1, 13) ^ $v0; $v0 = sip_rotl($v0, 32);
    $v2 += $v3; $v3 = sip_rotl($v3, 16) ^ $v2;
    $v0 += $v3; $v3 = sip_rotl($v3, 21) ^ $v0;
    $v2 += $v1; $v1 = sip_rotl($v1, 17) ^ $v2; $v2 = sip_rotl($v2, 32);
    return ($v0, $v1, $v2, $v3);
}

sub siphash {
    use integer;
    no warnings 'portable';
    my ($k0, $k1, $msg) = @_;
    my @v = ($k0 ^ 0x736f6d6570736575, $k1 ^ 0x646f72616e646f6d,
             $k0 ^ 0x6c7967656e657261, $k1 ^ 0x7465646279746573);
    my $len = length $msg;

    for my $m (unpack 'q<*', $msg . ("\0" x (7 - $len % 8))
                             . chr($len & 0xff))
    {
        $v[3] ^= $m;
        @v = sip_round(sip_round(@v));
        $v[0] ^= $m;
    }

    $v[2] ^= 0xff;
    @v = sip_round(sip_round(sip_round(sip_round(@v))));

    return $v[0] ^ $v[1] ^ $v[2] ^ $v[3];
}

# 100 keys that share a slot of the validator's 1024 under a key of zeros
our @unseeded;
for (my $i = 0; @unseeded < 100; $i++) {
    my $key = sprintf 'z%07d', $i;
    push @unseeded, $key if (siphash(0, 0, $key) & 1023) == 0;
}

# an object of these keys, each with the value 0
sub object {
    return '{' . CORE::join(',', map { qq("$_":0) } @_) . '}';
}

# $first001, $first002, ... $n of them
sub keys_from {
    my ($first, $n) = @_;
    return map { sprintf '%s%03d', $first, $_ } 1 .. $n;
}

# the offset of the closing quote of key $n when the keys of @$keys follow
# $prefix as object() writes them
sub end_of_key {
    my ($prefix, $keys, $n) = @_;
    my $s = $prefix . CORE::join(',', map { qq("$_":0) } @$keys[0 .. $n - 2])
            . qq(,"$keys->[$n - 1]);
    return length $s;
}

sub unknown {
    return '{"status":"error","error":"unknown_field","message":'
           . '"unknown field","field":"' . $_[0] . '"}';
}

sub too_many_keys {
    return '{"status":"error","error":"invalid_json","message":'
           . '"an object has more than 256 keys at byte ' . $_[0] . '"}';
}


# the Perl SipHash above is the one of the paper (Aumasson, Bernstein 2012)
Test::More::is(sprintf('%016x', siphash(unpack('q<q<', pack 'C16', 0 .. 15),
                                        pack 'C15', 0 .. 14)),
               'a129ca6149be45e5', 'SipHash-2-4 gives the paper\'s vector');

# the two bodies of TEST 1 differ only in their keys
Test::More::is(length(object(@colliding)), length(object(@ordinary)),
               'the colliding and the ordinary body have the same size');


# "--- json_work: K keys, at most P probes", or an eval array of them, one
# per request: the request's debug line says K keys and K to P probes.  P
# is 2 per key looked up (see TEST 1) unless a test says why otherwise.
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated, $dry_run) = @_;
    my $want = $block->json_work;

    return if $dry_run || !defined $want;

    $want = $want->[$req_idx] if ref $want;
    my ($keys, $max) = $want =~ /^(\d+) keys, at most (\d+) probes$/
        or die $block->name . " - bad --- json_work: $want\n";

    # the request's line is the last one: it is logged before the answer
    open my $log, '<', $Test::Nginx::Util::ErrLogFile
        or die "$Test::Nginx::Util::ErrLogFile: $!\n";
    my ($k, $p);
    while (<$log>) {
        ($k, $p) = ($1, $2) if /cs: json: (\d+) keys, (\d+) probes/;
    }
    close $log;

    my $name = $block->name . " (req $req_idx)";
    Test::More::note("$name: " . ($k // '?') . ' keys, '
                     . ($p // '?') . ' probes');
    Test::More::is($k, $keys, "$name - $keys keys held at most");
    Test::More::ok(defined $p && $p >= $keys && $p <= $max,
                   "$name - $keys to $max probes");
});

# every body here is refused: Redis must hold nothing after any block
check_stored_tickets();

run_tests();

__DATA__

=== TEST 1: keys that all shared a slot of the old hash cost what ordinary keys cost
At a load of 1/4 or less, linear probing looks at 1.12 slots per key on
average for 200 random keys (Knuth: (1 + 1/(1 - a)) / 2, a = 200/1024); of
5 million simulated bodies of 200 random keys none needed more than 1.43
per key, of 20 million of 256 keys none more than 1.55: a bound of 2 per
key cannot flake, whatever the seed.  The old hash needed 100 per key for
the colliding body.
--- request eval
["POST /api/service\n" . main::object(@main::colliding),
 "POST /api/service\n" . main::object(@main::ordinary)]
--- error_code eval
[422, 422]
--- response_body eval
[main::unknown($main::colliding[0]), main::unknown($main::ordinary[0])]
--- json_work eval
["200 keys, at most 400 probes", "200 keys, at most 400 probes"]



=== TEST 2: a 257th key in an object is invalid JSON, at the root or nested, before the schema's errors
--- request eval
["POST /api/service\n" . main::object(main::keys_from('k', 257)),
 "POST /api/service\n" . '{"n":' . main::object(main::keys_from('k', 257)) . '}']
--- error_code eval
[400, 400]
--- response_body eval
[main::too_many_keys(main::end_of_key('{', [main::keys_from('k', 257)], 257)),
 main::too_many_keys(main::end_of_key('{"n":{', [main::keys_from('k', 257)], 257))]
--- json_work eval
["256 keys, at most 512 probes", "257 keys, at most 514 probes"]



=== TEST 3: 256 keys in an object are not refused for their number, only by the schema
--- request eval
["POST /api/service\n" . main::object(main::keys_from('k', 256)),
 "POST /api/service\n" . '{"n":' . main::object(main::keys_from('k', 256)) . '}']
--- error_code eval
[422, 422]
--- response_body eval
[main::unknown('k001'), main::unknown('n')]
--- json_work eval
["256 keys, at most 512 probes", "257 keys, at most 514 probes"]



=== TEST 4: the cap counts one object's keys: two of 256 side by side, and 256 inside 256
The keys of "a" are let go when it closes: at most 2 + 256 are held.
--- request eval
["POST /api/service\n" . '{"a":' . main::object(main::keys_from('k', 256))
 . ',"b":' . main::object(main::keys_from('k', 256)) . '}',
 "POST /api/service\n" . '{' . CORE::join(',', map { qq("$_":0) } main::keys_from('k', 255))
 . ',"n":' . main::object(main::keys_from('k', 256)) . '}']
--- error_code eval
[422, 422]
--- response_body eval
[main::unknown('a'), main::unknown('k001')]
--- json_work eval
["258 keys, at most 1028 probes", "512 keys, at most 1024 probes"]



=== TEST 5: 5000 small objects hold 3 keys at most, not 10001
Each object of 2 keys looks at 1 slot for "a" and 1 or 2 for "b" in a table
just emptied; "n" takes 1: 15001 at most, whatever the seed.
--- request eval
"POST /api/service\n" . '{"n":[' . CORE::join(',', ('{"a":0,"b":0}') x 5000) . ']}'
--- error_code: 422
--- response_body eval
main::unknown('n')
--- json_work: 3 keys, at most 15001 probes



=== TEST 6: an object's keys are dropped when it closes: the same key in sibling objects is no duplicate
--- request
POST /api/service
{"userId":"u1","issue":"x","n":[{"a":0,"b":{"a":0}},{"a":0,"b":{"a":0}}]}
--- error_code: 422
--- response_body eval
main::unknown('n')
--- json_work: 6 keys, at most 14 probes



=== TEST 7: a duplicate in a nested object is still found after its siblings closed
--- request
POST /api/service
{"userId":"u1","issue":"x","n":[{"a":0},{"a":0,"b":0,"a":1}]}
--- error_code: 400
--- response_body chomp
{"status":"error","error":"invalid_json","message":"duplicate key in an object at byte 55"}
--- json_work: 5 keys, at most 11 probes



=== TEST 8: keys that share a slot under a key of zeros cost ordinary probes: the worker set its own
An unseeded worker would look at 1 + 2 + ... + 100 = 5050 slots for them.
--- request eval
"POST /api/service\n" . main::object(@main::unseeded)
--- error_code: 422
--- response_body eval
main::unknown($main::unseeded[0])
--- json_work: 100 keys, at most 200 probes
