/*
 * load: a small HTTP/1.1 load client for POST /api/service, used by
 * `make chaos` and `make soak`.
 *
 * N keep-alive connections (spread over one or more targets) driven by one
 * epoll loop, one request at a time on each.  Every logical request i has
 * its own Idempotency-Key, userId and issue, all derived from the run tag
 * and i.  Bounded in time (-d, then at most -D to drain) and in count (-n).
 *
 * With -R TRIES, a request answered 503 or 504, or whose connection failed
 * or timed out, is sent again after -w ms with the SAME Idempotency-Key,
 * up to TRIES times in all.
 *
 * With -o FILE every request and every answer is recorded (tab-separated):
 *   Q  i  key  userId  priority  channel  issue        (first send of i)
 *   R  i  try  sent_ms  recv_ms  status  ticketId  agent  state  pid
 *      target  error                                   (each answer;
 *      status 0: connection error or client timeout, error says which)
 *   G  i  tries                                        (gave up on i)
 * Times are wall-clock milliseconds since the epoch; "-" is "none".
 *
 * With -r RATE new requests start at about RATE per second overall (an
 * open-loop pace, capped at one per free connection); 0 is as fast as
 * the connections go.  Every -s seconds a slice line goes to stderr:
 * answers, 2xx, non-2xx, connection errors, p50/p99/max latency, and with
 * -P pid,pid,... the VmRSS of those processes; what is answered after the
 * last whole slice gets a "tail" line.  New requests wait while as many
 * retries as connections are pending, so an outage cannot pile up an
 * unbounded backlog.  The last stdout line is the summary,
 * "load: key=value ...".
 *
 * Build: gcc -O2 -Wall -o load chaos/load.c
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define RBUF_SIZE    16384
#define WBUF_SIZE    4096
#define MAX_TARGETS  16
#define MAX_PIDS     16


typedef struct {
    struct sockaddr_in  addr;
    char                name[64];
} target_t;


enum { C_IDLE = 0, C_CONNECTING, C_WRITING, C_READING };


typedef struct {
    int        fd;
    int        state;
    int        target;
    long       req;          /* logical request in flight, -1 none */
    int        try_no;
    int        reused;       /* the connection served a request before */
    double     sent_ms;      /* wall clock */
    double     sent_mono;
    double     deadline;     /* monotonic ms */
    char       wbuf[WBUF_SIZE];
    size_t     wlen, woff;
    char       rbuf[RBUF_SIZE + 1];
    size_t     rlen;
} conn_t;


typedef struct {
    long       i;
    double     due;          /* monotonic ms */
} retry_t;


/* options */
static target_t     targets[MAX_TARGETS];
static int          ntargets;
static int          nconns = 64;
static double       duration = 10;
static long         max_requests = 1000000;
static double       rate;
static const char  *out_path;
static char         tag[64];
static int          max_tries = 1;
static double       retry_wait = 250;
static double       try_timeout = 5000;
static double       drain = 30;
static double       slice = 0;
static long         users = 1000;
static int          with_key = 1;
static int          pids[MAX_PIDS];
static int          npids;

/* state */
static FILE        *out;
static conn_t      *conns;
static int          ep;
static long         issued;          /* logical requests started */
static long         finished;        /* logical requests settled */
static uint8_t     *tries;           /* per logical request */
static long         tries_cap;
static retry_t     *rq;              /* retry FIFO (ring) */
static long         rq_head, rq_len, rq_cap;
static int          in_flight;

/* totals */
static long  n_answers, n_2xx, n_201, n_non2xx, n_conn_err, n_timeouts;
static long  n_retries, n_gave_up, n_abandoned, n_no_ticket;
static long  n_status[600];

/* latency of the current slice and of the whole run, microseconds */
static uint32_t  *lat_slice, *lat_all;
static long       lat_slice_n, lat_slice_cap, lat_all_n, lat_all_cap;
static long       s_answers, s_2xx, s_non2xx, s_conn_err;


static double
mono_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}


static double
wall_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}


static void
die(const char *msg)
{
    fprintf(stderr, "load: %s\n", msg);
    exit(2);
}


static void *
xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        die("out of memory");
    }
    return p;
}


static void
lat_push(uint32_t **a, long *n, long *cap, uint32_t v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 65536;
        *a = xrealloc(*a, *cap * sizeof(uint32_t));
    }
    (*a)[(*n)++] = v;
}


static int
cmp_u32(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : x > y;
}


static double
pct(uint32_t *a, long n, double p)
{
    long  k;

    if (n == 0) {
        return 0;
    }
    k = (long) (p * n);
    if (k >= n) {
        k = n - 1;
    }
    return a[k] / 1000.0;
}


static const char *priorities[] = { "low", "normal", "high", "urgent" };
static const char *channels[] = { "web", "email", "chat", "social", "phone",
                                  "api" };


/* the fields of logical request i: deterministic, unique issue per i */
static void
fields(long i, char *user, size_t ulen, char *issue, size_t ilen,
    const char **prio, const char **chan)
{
    snprintf(user, ulen, "%s-u%ld", tag, i % users);
    /* UTF-8 on purpose: the fields must come back byte for byte */
    snprintf(issue, ilen, "%s #%ld: l'imprimante est en feu \xe2\x98\x83",
             tag, i);
    *prio = priorities[i % 4];
    *chan = channels[i % 6];
}


static void
build_request(conn_t *c, long i)
{
    int          blen;
    char         body[1024], user[160], issue[512], key[160];
    const char  *prio, *chan;

    fields(i, user, sizeof(user), issue, sizeof(issue), &prio, &chan);

    blen = snprintf(body, sizeof(body),
                    "{\"userId\":\"%s\",\"issue\":\"%s\","
                    "\"priority\":\"%s\",\"channel\":\"%s\"}",
                    user, issue, prio, chan);

    key[0] = '\0';
    if (with_key) {
        snprintf(key, sizeof(key), "Idempotency-Key: %s-%ld\r\n", tag, i);
    }

    c->wlen = snprintf(c->wbuf, sizeof(c->wbuf),
                       "POST /api/service HTTP/1.1\r\n"
                       "Host: %s\r\n"
                       "Content-Type: application/json\r\n"
                       "%s"
                       "Content-Length: %d\r\n"
                       "\r\n%s",
                       targets[c->target].name, key, blen, body);
    c->woff = 0;

    if (out && c->try_no == 1) {
        fprintf(out, "Q\t%ld\t%s-%ld\t%s\t%s\t%s\t%s\n",
                i, tag, i, user, prio, chan, issue);
    }
}


static void
conn_close(conn_t *c)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = C_IDLE;
    c->rlen = 0;
    c->reused = 0;
}


static void
set_events(conn_t *c, uint32_t events)
{
    struct epoll_event  ev;

    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        die("epoll_ctl MOD failed");
    }
}


static void
retry_push(long i, double due)
{
    if (rq_len == rq_cap) {
        long      k, ncap = rq_cap ? rq_cap * 2 : 1024;
        retry_t  *n = xrealloc(NULL, ncap * sizeof(retry_t));

        for (k = 0; k < rq_len; k++) {
            n[k] = rq[(rq_head + k) % rq_cap];
        }
        free(rq);
        rq = n;
        rq_head = 0;
        rq_cap = ncap;
    }
    rq[(rq_head + rq_len) % rq_cap].i = i;
    rq[(rq_head + rq_len) % rq_cap].due = due;
    rq_len++;
}


/* one try of request i ended; settle it or schedule the next try */
static void
settle(conn_t *c, int status, const char *body, int pid, const char *err)
{
    long         i = c->req;
    long         ticket = -1;
    char         agent[64] = "-", state[64] = "-", code[64] = "-";
    const char  *p;
    double       now = wall_ms();
    uint32_t     us;

    if (body != NULL) {
        if ((p = strstr(body, "\"ticketId\":")) != NULL) {
            ticket = strtol(p + 11, NULL, 10);
        }
        if ((p = strstr(body, "\"agent\":\"")) != NULL) {
            sscanf(p + 9, "%63[^\"]", agent);
        }
        if ((p = strstr(body, "\"state\":\"")) != NULL) {
            sscanf(p + 9, "%63[^\"]", state);
        }
        if ((p = strstr(body, "\"error\":\"")) != NULL) {
            sscanf(p + 9, "%63[^\"]", code);
        }
    }

    if (err != NULL) {
        snprintf(code, sizeof(code), "%s", err);
    }

    if (out) {
        char  tbuf[32] = "-", pbuf[32] = "-";

        if (ticket >= 0) {
            snprintf(tbuf, sizeof(tbuf), "%ld", ticket);
        }
        if (pid > 0) {
            snprintf(pbuf, sizeof(pbuf), "%d", pid);
        }
        fprintf(out, "R\t%ld\t%d\t%.0f\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
                i, c->try_no, c->sent_ms, now, status, tbuf, agent, state,
                pbuf, targets[c->target].name, code);
    }

    us = (uint32_t) ((mono_ms() - c->sent_mono) * 1000);

    if (status > 0) {
        n_answers++;
        s_answers++;
        if (status < 600) {
            n_status[status]++;
        }
        lat_push(&lat_slice, &lat_slice_n, &lat_slice_cap, us);
        lat_push(&lat_all, &lat_all_n, &lat_all_cap, us);
    }

    if (status >= 200 && status < 300) {
        n_2xx++;
        s_2xx++;
        if (status == 201) {
            n_201++;
        }
        if (ticket < 0) {
            n_no_ticket++;
        }

    } else if (status > 0) {
        n_non2xx++;
        s_non2xx++;

    } else {
        n_conn_err++;
        s_conn_err++;
    }

    in_flight--;
    c->req = -1;

    if ((status == 0 || status == 503 || status == 504)
        && tries[i] < max_tries)
    {
        n_retries++;
        retry_push(i, mono_ms() + retry_wait);
        return;
    }

    if (status == 0 || status == 503 || status == 504) {
        if (max_tries > 1) {
            n_gave_up++;
            if (out) {
                fprintf(out, "G\t%ld\t%d\n", i, tries[i]);
            }
        }
    }

    finished++;
}


static void
conn_fail(conn_t *c, const char *err)
{
    if (c->req >= 0) {
        settle(c, 0, NULL, 0, err);
    }
    conn_close(c);
}


static void
conn_start(conn_t *c, long i)
{
    struct epoll_event  ev;

    c->req = i;
    c->try_no = ++tries[i];
    in_flight++;

    build_request(c, i);

    c->sent_ms = wall_ms();
    c->sent_mono = mono_ms();
    c->deadline = c->sent_mono + try_timeout;
    c->rlen = 0;

    if (c->fd >= 0) {
        c->state = C_WRITING;
        set_events(c, EPOLLOUT | EPOLLIN | EPOLLRDHUP);
        return;
    }

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        die("socket() failed");
    }

    {
        int  one = 1;

        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }

    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        die("epoll_ctl ADD failed");
    }

    c->reused = 0;

    if (connect(c->fd, (struct sockaddr *) &targets[c->target].addr,
                sizeof(struct sockaddr_in)) == 0)
    {
        c->state = C_WRITING;
        return;
    }

    if (errno != EINPROGRESS) {
        conn_fail(c, "connect");
        return;
    }

    c->state = C_CONNECTING;
}


/* a complete response in rbuf?  0: not yet, 1: done, -1: malformed */
static int
parse_response(conn_t *c)
{
    int     status, pid = 0, close_conn = 0;
    char   *hend, *p, *line;
    long    clen = -1;
    size_t  hlen;

    c->rbuf[c->rlen] = '\0';

    hend = strstr(c->rbuf, "\r\n\r\n");
    if (hend == NULL) {
        return c->rlen >= RBUF_SIZE ? -1 : 0;
    }

    hlen = hend + 4 - c->rbuf;

    if (sscanf(c->rbuf, "HTTP/1.%*d %d", &status) != 1) {
        return -1;
    }

    for (line = strstr(c->rbuf, "\r\n");
         line != NULL && line < hend;
         line = strstr(line + 2, "\r\n"))
    {
        p = line + 2;
        if (strncasecmp(p, "Content-Length:", 15) == 0) {
            clen = strtol(p + 15, NULL, 10);

        } else if (strncasecmp(p, "X-Pid:", 6) == 0) {
            pid = atoi(p + 6);

        } else if (strncasecmp(p, "Connection:", 11) == 0) {
            if (strncasecmp(p + 11 + strspn(p + 11, " "), "close", 5) == 0) {
                close_conn = 1;
            }
        }
    }

    if (clen < 0) {
        return -1;
    }

    if (c->rlen < hlen + clen) {
        return c->rlen >= RBUF_SIZE ? -1 : 0;
    }

    if (c->rlen > hlen + clen) {
        /* nothing was pipelined: extra bytes are a protocol error */
        return -1;
    }

    settle(c, status, c->rbuf + hlen, pid, NULL);

    c->rlen = 0;
    c->reused = 1;

    if (close_conn) {
        conn_close(c);

    } else {
        c->state = C_IDLE;
        set_events(c, EPOLLIN | EPOLLRDHUP);
    }

    return 1;
}


static void
on_event(conn_t *c, uint32_t events)
{
    ssize_t  n;
    int      err;

    if (c->state == C_CONNECTING) {
        socklen_t  len = sizeof(err);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0
            || err != 0)
        {
            conn_fail(c, "connect");
            return;
        }
        c->state = C_WRITING;
    }

    if (c->state == C_IDLE) {
        /* the server closed a kept-alive connection, or sent junk */
        conn_close(c);
        return;
    }

    /* try the write whatever the event: a failure shows the cause */
    if (c->state == C_WRITING) {
        while (c->woff < c->wlen) {
            n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
                     MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN) {
                    return;
                }
                conn_fail(c, c->reused ? "reset-keepalive" : "send");
                return;
            }
            c->woff += n;
        }
        c->state = C_READING;
        set_events(c, EPOLLIN | EPOLLRDHUP);
    }

    if (c->state == C_READING && (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR
                                            | EPOLLHUP)))
    {
        for ( ;; ) {
            n = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
            if (n < 0) {
                if (errno == EAGAIN) {
                    return;
                }
                conn_fail(c, c->rlen == 0 && c->reused
                             ? "reset-keepalive" : "recv");
                return;
            }
            if (n == 0) {
                conn_fail(c, c->rlen == 0 && c->reused
                             ? "closed-keepalive" : "closed");
                return;
            }
            c->rlen += n;

            switch (parse_response(c)) {
            case 0:
                continue;
            case 1:
                return;
            default:
                conn_fail(c, "malformed");
                return;
            }
        }
    }
}


static int
add_target(const char *s)
{
    char         host[64];
    int          port;
    const char  *colon = strrchr(s, ':');

    if (ntargets == MAX_TARGETS || colon == NULL
        || (size_t) (colon - s) >= sizeof(host))
    {
        return -1;
    }
    memcpy(host, s, colon - s);
    host[colon - s] = '\0';
    port = atoi(colon + 1);

    memset(&targets[ntargets].addr, 0, sizeof(struct sockaddr_in));
    targets[ntargets].addr.sin_family = AF_INET;
    targets[ntargets].addr.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &targets[ntargets].addr.sin_addr) != 1) {
        return -1;
    }
    snprintf(targets[ntargets].name, sizeof(targets[ntargets].name), "%s",
             s);
    ntargets++;
    return 0;
}


static long
rss_kb(int pid)
{
    char   path[64], line[256];
    long   kb = -1;
    FILE  *f;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}


/* "slice" for a whole slice, "tail" for what came after the last one */
static void
slice_report(const char *what, double t, double len)
{
    int   k;

    qsort(lat_slice, lat_slice_n, sizeof(uint32_t), cmp_u32);

    fprintf(stderr, "%s t=%.0fs answers=%ld rps=%.0f 2xx=%ld non2xx=%ld "
            "conn_errors=%ld p50=%.2fms p99=%.2fms max=%.2fms",
            what, t, s_answers, s_answers / len, s_2xx, s_non2xx, s_conn_err,
            pct(lat_slice, lat_slice_n, 0.50),
            pct(lat_slice, lat_slice_n, 0.99),
            lat_slice_n ? lat_slice[lat_slice_n - 1] / 1000.0 : 0.0);

    for (k = 0; k < npids; k++) {
        fprintf(stderr, " rss[%d]=%ldkB", pids[k], rss_kb(pids[k]));
    }
    fputc('\n', stderr);
    fflush(stderr);

    lat_slice_n = 0;
    s_answers = s_2xx = s_non2xx = s_conn_err = 0;
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: load -t host:port [-t ...] [-c conns] [-d seconds] "
        "[-n max] [-r rate]\n"
        "            [-o file] [-k tag] [-R tries] [-w retry_ms] "
        "[-T timeout_ms]\n"
        "            [-D drain_s] [-s slice_s] [-u users] [-q] "
        "[-P pid,pid...]\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    int                 opt, k, n;
    long                i;
    char               *p;
    double              start, now, end, hard_end, next_slice, paced;
    struct epoll_event  evs[256];

    snprintf(tag, sizeof(tag), "L%ld", (long) getpid());

    while ((opt = getopt(argc, argv, "t:c:d:n:r:o:k:R:w:T:D:s:u:qP:")) != -1)
    {
        switch (opt) {
        case 't': if (add_target(optarg) != 0) { usage(); } break;
        case 'c': nconns = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'n': max_requests = atol(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'o': out_path = optarg; break;
        case 'k': snprintf(tag, sizeof(tag), "%s", optarg); break;
        case 'R': max_tries = atoi(optarg); break;
        case 'w': retry_wait = atof(optarg); break;
        case 'T': try_timeout = atof(optarg); break;
        case 'D': drain = atof(optarg); break;
        case 's': slice = atof(optarg); break;
        case 'u': users = atol(optarg); break;
        case 'q': with_key = 0; break;
        case 'P':
            for (p = strtok(optarg, ","); p && npids < MAX_PIDS;
                 p = strtok(NULL, ","))
            {
                pids[npids++] = atoi(p);
            }
            break;
        default: usage();
        }
    }

    if (ntargets == 0 || nconns < 1 || max_tries < 1 || max_tries > 250
        || users < 1 || max_requests < 1)
    {
        usage();
    }

    signal(SIGPIPE, SIG_IGN);

    if (out_path) {
        out = fopen(out_path, "w");
        if (out == NULL) {
            die("cannot open the record file");
        }
        setvbuf(out, NULL, _IOFBF, 1 << 20);
    }

    tries_cap = max_requests;
    tries = calloc(tries_cap, 1);
    conns = calloc(nconns, sizeof(conn_t));
    if (tries == NULL || conns == NULL) {
        die("out of memory");
    }

    ep = epoll_create1(0);
    if (ep < 0) {
        die("epoll_create1 failed");
    }

    for (k = 0; k < nconns; k++) {
        conns[k].fd = -1;
        conns[k].req = -1;
        conns[k].target = k % ntargets;
    }

    paced = 0;
    start = mono_ms();
    end = start + duration * 1000;
    hard_end = end + drain * 1000;
    next_slice = slice > 0 ? start + slice * 1000 : 0;

    for ( ;; ) {
        now = mono_ms();

        if (next_slice && now >= next_slice) {
            slice_report("slice", (next_slice - start) / 1000, slice);
            next_slice += slice * 1000;
        }

        /* give free connections work: due retries first, then new */
        for (k = 0; k < nconns; k++) {
            conn_t  *c = &conns[k];

            if (c->req >= 0) {
                continue;
            }

            if (rq_len > 0 && rq[rq_head].due <= now && now < hard_end) {
                i = rq[rq_head].i;
                rq_head = (rq_head + 1) % rq_cap;
                rq_len--;
                conn_start(c, i);
                continue;
            }

            /* a backlog of retries holds new requests back: bounded */
            if (now < end && issued < max_requests && rq_len < nconns) {
                if (rate > 0) {
                    double  due = rate * (now - start) / 1000;

                    if (due - paced < 1) {
                        continue;
                    }
                    if (due - paced > nconns) {
                        /* fell behind: do not burst to catch up */
                        paced = due - nconns;
                    }
                    paced++;
                }
                conn_start(c, issued++);
            }
        }

        if (in_flight == 0 && rq_len == 0
            && (now >= end || issued >= max_requests))
        {
            break;
        }

        if (now >= hard_end) {
            break;
        }

        n = epoll_wait(ep, evs, 256, 1);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait failed");
        }

        for (k = 0; k < n; k++) {
            on_event(evs[k].data.ptr, evs[k].events);
        }

        now = mono_ms();
        for (k = 0; k < nconns; k++) {
            if (conns[k].req >= 0 && now > conns[k].deadline) {
                n_timeouts++;
                conn_fail(&conns[k], "timeout");
            }
        }
    }

    /* the drain bound: what is still open is abandoned */
    for (k = 0; k < nconns; k++) {
        if (conns[k].req >= 0) {
            n_abandoned++;
            if (out) {
                fprintf(out, "G\t%ld\t%d\n", conns[k].req,
                        tries[conns[k].req]);
            }
        }
        conn_close(&conns[k]);
    }
    for (; rq_len > 0; rq_len--, rq_head = (rq_head + 1) % rq_cap) {
        n_abandoned++;
        if (out) {
            fprintf(out, "G\t%ld\t%d\n", rq[rq_head].i, tries[rq[rq_head].i]);
        }
    }

    if (slice > 0 && s_answers + s_conn_err > 0) {
        now = mono_ms();
        slice_report("tail", (now - start) / 1000,
                     (now - (next_slice - slice * 1000)) / 1000);
    }

    if (out && fclose(out) != 0) {
        die("writing the record file failed");
    }

    qsort(lat_all, lat_all_n, sizeof(uint32_t), cmp_u32);
    now = mono_ms();

    printf("load: requests=%ld answers=%ld 2xx=%ld 201=%ld non2xx=%ld "
           "s503=%ld s504=%ld conn_errors=%ld timeouts=%ld retries=%ld "
           "gave_up=%ld abandoned=%ld no_ticket=%ld seconds=%.1f rps=%.0f "
           "p50=%.2fms p99=%.2fms max=%.2fms\n",
           issued, n_answers, n_2xx, n_201, n_non2xx, n_status[503],
           n_status[504], n_conn_err, n_timeouts, n_retries, n_gave_up,
           n_abandoned, n_no_ticket, (now - start) / 1000,
           n_answers / ((now - start) / 1000),
           pct(lat_all, lat_all_n, 0.50), pct(lat_all, lat_all_n, 0.99),
           lat_all_n ? lat_all[lat_all_n - 1] / 1000.0 : 0.0);

    return 0;
}
