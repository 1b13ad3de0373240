#!/usr/bin/env perl
# The verdict of `make soak` (soak/run.sh): reads the load client's slice
# lines (with the workers' VmRSS), its summary line and the error log, and
# prints one line, "soak: PASS|FAIL ...".  Exit status 1 on failure.
use strict;
use warnings;
use Getopt::Long;

my %o;
GetOptions(\%o, 'slices=s', 'errlog=s', 'summary=s', 'seconds=i', 'warmup=i',
           'limit=i', 'rate=i', 'max=i', 'percent=i', 'max-bad=s',
           'workers-before=s', 'workers-after=s')
    or die "verdict.pl: bad options\n";

my (@s, @problems);
open my $sf, '<', $o{slices} or die "verdict.pl: $o{slices}: $!\n";
while (<$sf>) {
    next unless /^slice t=(\d+)s .*non2xx=(\d+) conn_errors=(\d+) p50=\S+ p99=([\d.]+)ms/;
    my %r = (t => $1, non2xx => $2, err => $3, p99 => $4);
    $r{rss}{$1} = $2 while /rss\[(\d+)\]=(-?\d+)kB/g;
    push @s, \%r;
}
close $sf;
die "soak: no slice lines\n" unless @s;

# the first slice at or after t
sub at {
    my ($t) = @_;
    for (@s) { return $_ if $_->{t} >= $t }
    return $s[-1];
}

my ($base, $mid, $end) = (at($o{warmup}), at($o{seconds} / 2),
                          at($o{seconds}));
my ($grow_max, @rss);
for my $pid (sort { $a <=> $b } keys %{ $base->{rss} }) {
    my ($b, $m, $e) = map { $_->{rss}{$pid} // -1 } $base, $mid, $end;
    my $peak = 0;
    for (@s) {
        next if $_->{t} < $base->{t};
        my $v = $_->{rss}{$pid} // 0;
        $peak = $v if $v > $peak;
    }
    my $d = $e - $b;
    $grow_max = $d if !defined $grow_max || $d > $grow_max;
    push @rss, sprintf('%d:%d/%d/%dkB(%+d,peak %d)', $pid, $b, $m, $e, $d,
                       $peak);
    push @problems, "worker $pid grew $d kB after the warm-up"
        if $d > $o{limit};
    push @problems, "worker $pid is gone" if $e < 0;
}

push @problems, "the load stopped at $s[-1]{t} s, before $o{seconds} s"
    if $s[-1]{t} < $o{seconds};

my %sum = $o{summary} =~ /(\w+)=([\d.]+)/g;
my $p99_worst = 0;
for (@s) { $p99_worst = $_->{p99} if $_->{p99} > $p99_worst }
push @problems, "$sum{non2xx} non-2xx answers" if $sum{non2xx};
push @problems, "$sum{conn_errors} socket errors or timeouts"
    if $sum{conn_errors};
push @problems, "the maximum-rate run had non-2xx+socket errors ($o{'max-bad'})"
    if $o{'max-bad'} ne '0+0';

my ($crashes, $alerts) = (0, 0);
if (open my $lf, '<', $o{errlog}) {
    while (<$lf>) {
        if (/exited on signal|exited with fatal code|exited with code [1-9]/) {
            $crashes++;
            push @problems, $_;
        } elsif (/\[(alert|crit|emerg)\]/) {
            $alerts++;
            push @problems, $_;
        }
    }
    close $lf;
}
if ($o{'workers-before'} ne $o{'workers-after'}) {
    $crashes++;
    push @problems, "workers [$o{'workers-before'}] -> [$o{'workers-after'}]";
}

chomp @problems;
print STDERR "soak:   $_\n" for @problems;
printf "soak: %s seconds=%d rate=%d/s (%d%% of max %d/s) achieved=%d/s"
     . " requests=%d"
     . " non2xx=%d sock_err=%d p99=%.2fms p99_worst_slice=%.2fms crashes=%d"
     . " alerts=%d rss_kB(start/mid/end) %s rss_growth_max=%+dkB"
     . " (limit +%dkB)\n",
    @problems ? 'FAIL' : 'PASS', $o{seconds}, $o{rate}, $o{percent}, $o{max},
    ($sum{answers} // 0) / $o{seconds}, $sum{requests} // 0, $sum{non2xx} // 0, $sum{conn_errors} // 0,
    $sum{p99} // 0, $p99_worst, $crashes, $alerts, join(' ', @rss),
    $grow_max // 0, $o{limit};
exit(@problems ? 1 : 0);
