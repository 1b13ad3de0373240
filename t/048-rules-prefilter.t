# cs_rule's prefilter: a rule's regex runs only when the text holds one of
# the literals read from it when the configuration was read (one pass of
# an Aho-Corasick automaton over the issue, case-folded).  A rule must
# match exactly when its regex matches, so each rule here has literals that
# are easy to get wrong: caseless parts, escapes, \Q..\E, classes,
# alternation (at the top and in groups, with an empty branch), anchors,
# quantifiers that make a literal optional or repeat it, (?x)'s spaces and
# comments, lookarounds, back references, UTF-8 and a (*UTF) verb.  Each
# rule is alone in its location, so every intake tells whether it matched;
# the texts that must match and those that must not are PCRE2's answers
# (t/unit/prefilter_test.c checks the reader against PCRE2 itself on
# random patterns and texts).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use CsTest;
use CsCheck;
use JSON::PP;

redis_start();

# name, the regex as nginx's configuration spells it (nginx itself turns
# \t, \n, \r, \\ and \" in a quoted string into the character), texts
# that match, texts that do not
our @Rules = (
    [ ci => '(?i)refund', ['REFUND please', 'a ReFuNd'], ['refun d', 'refunt'] ],
    [ ci_group => '(?i:Money) back', ['MoNeY back'], ['money BACK', 'moneyback'] ],
    [ cased => 'Refund', ['Refund now'], ['refund now', 'REFUND'] ],
    [ optional => 'colou?r', ['color', 'COLOUR? no: colour'], ['colr', 'COLOR'] ],
    [ star => 'ab*c', ['ac', 'abbbc'], ['a c', 'abd'] ],
    [ plus => 'ab+c', ['abc', 'xabbbcx'], ['ac', 'a bc'] ],
    [ bounded => 'go{2}gle|z{0,2}q', ['google', 'q', 'zzq'], ['gogle', 'Q'] ],
    [ escapes => '1\\.5\\s*kg', ['1.5 kg', 'it is 1.5kg'], ['1x5kg', '1.5 g'] ],
    [ tab => 'a\\\\tb', ["a\tb"], ['a b', 'a\\tb'] ],
    [ quoted => '\\Qa+b\\E=c', ['a+b=c'], ['aab=c', 'ab=c'] ],
    [ class => 'order [#]?\\d+ lost', ['order #12 lost', 'order 12 lost'], ['order # lost', 'order #12 found'] ],
    [ top_alt => 'cancel|abort', ['please abort', 'cancel it'], ['CANCEL', 'abrt'] ],
    [ empty_branch => 'x(y|)z', ['xz', 'xyz'], ['xy z', 'x z'] ],
    [ group_alt => '(?i)(refund|cancel|return) order 7\\b', ['Return order 7', 'CANCEL ORDER 7!'], ['return order 71', 'order 7'] ],
    [ anchors => '^hello$', ['hello'], ['hello there', 'say hello'] ],
    [ boundary => '\\border\\b', ['my order.', 'order'], ['reorder', 'orders'] ],
    [ extended => '(?x) pass \\ word  # a comment', ['pass word', 'my pass word'], ['password', 'pass  word'] ],
    [ extended_quant => '(?x)ab +c', ['abbc', 'abc'], ['ab c', 'ac'] ],
    [ lookahead => 'foo(?=bar)', ['foobar'], ['foo bar', 'foo'] ],
    [ backref => '(a)\\1x', ['aax'], ['ax', 'abx'] ],
    [ branch_option => '(a(?i)b|c)', ['aB', 'C'], ['AB', 'd'] ],
    [ named => '(?<w>ship)ping', ['shipping'], ['ship ping'] ],
    [ repeat => '1{3}', ['1111', 'x111'], ['11', '1 11'] ],
    [ nested => '(?i)((?:un)?lock(ed)?) (out|in)', ['Locked out', 'UNLOCK IN'], ['locked up', 'lockout'] ],
    [ lazy => 'a.*?b', ['a--b', 'ab'], ['ba'] ],
    [ cafe => '(?i)caf\xc3\xa9', ["CAF\xc3\xa9"], ["CAF\xc3\x89", 'cafe'] ],
    [ kelvin => '(?i)kelvin', ['KELVIN'], ["\xe2\x84\xaaelvin"] ],
    [ kelvin_utf => '(*UTF)(?i)kelvin', ['KELVIN', "\xe2\x84\xaaelvin"], ['kelvn'] ],
);

sub location {
    my ($name, $re) = @_;
    return <<"CONF";
location = /r/$name {
    cs_service;
    cs_redis_server 127.0.0.1:\$TEST_NGINX_REDIS_PORT;
    cs_agents agent1;
    cs_rule $name "$re" "answer of $name";
}
CONF
}

sub locations { return CORE::join '', map { location($_->[0], $_->[1]) } @Rules }

# /filtered: all the rules; /plain: the same, each regex after (*NO_JIT)
sub lists {
    my $out = '';
    for my $verb ('', '(*NO_JIT)') {
        $out .= "location = /" . ($verb ? 'plain' : 'filtered') . " {\n"
            . "    cs_service;\n"
            . "    cs_redis_server 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n"
            . "    cs_agents agent1;\n";
        $out .= "    cs_rule $_->[0] \"$verb$_->[1]\" \"answer of $_->[0]\";\n"
            for @Rules;
        $out .= "}\n";
    }
    return $out;
}

# the intake's verdict: the rule's name when it answered, '' when not
sub verdict {
    my ($path, $text) = @_;
    my $body = JSON::PP->new->encode({ userId => 'u1',
                                       issue => Encode::decode('UTF-8', $text) });
    my ($st, $res) = CsTest::post_ticket(Encode::encode('UTF-8', $body), path => $path);
    die "$path: $st $res\n" unless $st == 201;
    my $b = JSON::PP->new->decode($res);
    return ($b->{answer} // '') =~ /^answer of (\S+)$/ ? $1 : '';
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('init', 'CsTest::flush_redis();')
        unless defined $block->init;
    $block->set_value('request', "GET /t\n") unless defined $block->request;
    $block->set_value('error_code', 404) unless defined $block->error_code;
});

check_stored_sections();

run_tests();

__DATA__

=== TEST 1: each rule alone: it answers exactly the texts its regex matches
--- config eval
main::locations()
--- stored
require Encode;
for my $rule (@main::Rules) {
    my ($rn, $re, $yes, $no) = @$rule;
    for my $text (@$yes) {
        is(main::verdict("/r/$rn", $text), $rn, "$name - /$re/ matches '$text'");
    }
    for my $text (@$no) {
        is(main::verdict("/r/$rn", $text), '', "$name - /$re/ does not match '$text'");
    }
}



=== TEST 2: all the rules in one list, against the same list with (*NO_JIT) before each regex (which the prefilter does not read, so every regex runs, without JIT): for every text above and for random ones, the same rule answers and the same rules are suggested, in order
--- config eval
main::lists()
--- stored
require Encode;
my @texts = map { @{ $_->[2] }, @{ $_->[3] } } @main::Rules;
# random texts made of pieces of the rules' texts and a few characters
srand(37);
my @bits = (@texts, qw(a b c x z q 1 7 K k . o order lock), '#', ' ', ' ', "\t");
for (1 .. 150) {
    my $t = join '', map { my $p = $bits[rand @bits]; substr($p, rand(length $p), 1 + rand 6) } 1 .. 1 + rand 4;
    $t = uc $t if rand() < 0.2;
    push @texts, $t if $t =~ /\S/;
}
my ($answered, $suggested) = (0, 0);
for my $text (@texts) {
    my @lists;
    for my $path ('/filtered', '/plain') {
        my $body = JSON::PP->new->encode({ userId => 'u2', issue => Encode::decode('UTF-8', $text, sub { '?' }) });
        my ($st, $res) = CsTest::post_ticket(Encode::encode('UTF-8', $body), path => $path);
        is($st, 201, "$name - $path 201 for '$text'") or diag($res);
        my $b = $st == 201 ? JSON::PP->new->decode($res) : {};
        push @lists, [ ($b->{answer} // '') =~ /^answer of (\S+)$/ ? $1 : (),
                       map { $_->{rule} } @{ $b->{suggestions} || [] } ];
    }
    is_deeply($lists[0], $lists[1], "$name - the same rules for '$text'");
    $answered++ if @{ $lists[0] };
    $suggested++ if @{ $lists[0] } > 1;
}
# the walk means something only if texts matched, some several rules
cmp_ok($answered, '>', 60, "$name - $answered texts answered by a rule");
cmp_ok($suggested, '>', 15, "$name - $suggested texts with suggestions");



=== TEST 3: a hundred rules (as the bench's: caseless alternatives and numbers), so that the rules to run span two 64-bit words: the ones a text matches answer and are suggested, in order, whichever word holds them
--- config eval
"location = /many {\n    cs_service;\n    cs_redis_server 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n    cs_agents agent1;\n"
. CORE::join('', map { "    cs_rule r$_ \"(?i)(refund|cancel|return) order $_\\\\b|invoice $_ missing\" \"answer of r$_\";\n" } 1 .. 100)
. "}\n"
--- stored
my @cases = (
    [ 'Please CANCEL order 70 and refund order 99' => qw(r70 r99) ],
    [ 'invoice 1 missing, return order 64, invoice 65 missing' => qw(r1 r64 r65) ],
    [ 'Return Order 100; invoice 63 missing; cancel order 7' => qw(r7 r63 r100) ],
    [ 'refund order 700, invoice 5 gone, order 70' => () ],
);
for my $c (@cases) {
    my ($text, @want) = @$c;
    my ($st, $res) = CsTest::post_ticket(JSON::PP->new->encode({ userId => 'u3', issue => $text }), path => '/many');
    is($st, 201, "$name - 201");
    my $b = JSON::PP->new->decode($res);
    my @got = (($b->{answer} // '') =~ /^answer of (\S+)$/ ? $1 : (),
               map { $_->{rule} } @{ $b->{suggestions} || [] });
    is_deeply(\@got, \@want, "$name - '$text': @want");
}
