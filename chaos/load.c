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
 * With -l N and -A FILE, N more connections work a desk (a cs_api location
 * below -x PREFIX, default /desk/) as its customers, agents and admin do:
 * intakes there (retried like the others, with their own keys; one in
 * five asks for a "password reset", which the desk's cs_rule answers:
 * auto_resolved), and calls
 * on the tickets they acknowledged: an agent reads its queue, replies,
 * sets pending or solved, hands a ticket to another agent or lets it go
 * (assign null); the admin solves and closes; the customer writes with the
 * ticket's token (a reopen when it is pending, solved or auto_resolved);
 * agents flip
 * between away and online, and the admin changes capacities (a "grow"
 * agent's only rises).  FILE has "admin KEY" and "agent NAME TOKEN
 * CAPACITY grow|swing" lines.  Tickets and agents are chosen from what the
 * answers showed, so a 403 or 409 (the ticket moved meanwhile) is a normal
 * outcome.  These calls are never sent again; each is recorded as
 *   L  i  op  ticketId  actor  arg  sent_ms  recv_ms  status  code  state
 *      agent  pid  target  next
 * (arg: the agent a ticket is handed to, NAME=CAPACITY, the presence set,
 * or the message's body; next: the first i sent after this answer came, so
 * that a checker knows which calls were surely later).  A Q line ends
 * with its location, v1 or desk.
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
#define MAX_AGENTS   16
#define SNAP_IDS     32      /* an agent's queue as last read */
#define RECENT       500     /* "recent" acknowledged desk tickets */
#define RING         256     /* tickets lately made pending or solved */
#define MAX_TICKET   50000000L


typedef struct {
    struct sockaddr_in  addr;
    char                name[64];
} target_t;


/* what logical request i is */
enum { K_INTAKE = 0, K_DESK, K_OP };


/* the desk's calls; op_names[] in the same order */
enum { OP_QUEUE = 0, OP_REPLY, OP_PENDING, OP_SOLVED, OP_CLOSE,
       OP_CUSTOMER, OP_ASSIGN, OP_UNASSIGN, OP_PRESENCE, OP_CAPACITY,
       OP_N };

static const char  *op_names[] = { "queue", "reply", "pending", "solved",
                                   "close", "customer", "assign",
                                   "unassign", "presence", "capacity" };

/* the share of each in 100 draws; the rest (10) are intakes */
static const int    op_weights[] = { 8, 14, 8, 13, 8, 12, 9, 5, 9, 4 };


typedef struct {
    char       name[65];
    char       token[256];
    int        capacity;     /* as last sent */
    int        grow;         /* capacity only ever raised */
    int        cap_busy;     /* a capacity call for it is in flight */
    long       ids[SNAP_IDS];
    int        nids;
} agent_t;


/* what an op call was, for its answer */
typedef struct {
    int        op;
    long       ticket;       /* -1: none */
    int        agent;        /* the agent it concerns (acts, is set), -1 */
    int        to;           /* assign: the agent it goes to, -1 null */
    int        capacity;     /* capacity: the one set */
    char       actor[72];
    char       arg[192];
} opcall_t;


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
    int        desk;         /* a desk connection (-l) */
    opcall_t   call;         /* the op in flight, when kinds[req] is K_OP */
} conn_t;


typedef struct {
    long       i;
    double     due;          /* monotonic ms */
} retry_t;


/* options */
static target_t     targets[MAX_TARGETS];
static int          ntargets;
static int          nconns = 64;
static int          nall;            /* nconns + nlife */
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
static int          nlife;
static const char  *desk_prefix = "/desk/";
static const char  *creds_path;

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
static uint8_t     *kinds;           /* per logical request */

/* the desk as the answers showed it */
static char         admin_key[256];
static agent_t      agents[MAX_AGENTS];
static int          nagents;
static char       **tokens;          /* a customer token per ticket id */
static long         tokens_cap;
static long        *acked;           /* acknowledged desk tickets, in order */
static long         nacked, acked_cap;
static long         ring[RING];      /* lately pending or solved */
static long         ring_n;
static uint64_t     rnd_state = 88172645463325252ULL;
static long         n_ops, n_ops_2xx, n_ops_403, n_ops_409, n_ops_4xx;
static long         n_ops_5xx, n_ops_conn;

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


/* xorshift64*: the desk's choices; seeded from the run tag */
static uint64_t
rnd(void)
{
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;
    return rnd_state * 2685821657736338717ULL;
}


static long
rnd_below(long n)
{
    return n > 0 ? (long) (rnd() % (uint64_t) n) : 0;
}


/* the answer's first "name":"value" (1), "name":null (0), or none (-1) */
static int
json_str(const char *body, const char *name, char *out, size_t len)
{
    char         pat[64];
    const char  *p, *e;

    snprintf(pat, sizeof(pat), "\"%s\":", name);
    p = strstr(body, pat);
    if (p == NULL) {
        return -1;
    }
    p += strlen(pat);
    if (*p != '"') {
        return 0;
    }
    p++;
    e = strchr(p, '"');
    if (e == NULL || (size_t) (e - p) >= len) {
        return -1;
    }
    memcpy(out, p, e - p);
    out[e - p] = '\0';
    return 1;
}


static int
agent_index(const char *name)
{
    int  k;

    for (k = 0; k < nagents; k++) {
        if (strcmp(agents[k].name, name) == 0) {
            return k;
        }
    }
    return -1;
}


static void
snap_del(int a, long id)
{
    int  k;

    if (a < 0) {
        return;
    }
    for (k = 0; k < agents[a].nids; k++) {
        if (agents[a].ids[k] == id) {
            agents[a].ids[k] = agents[a].ids[--agents[a].nids];
            return;
        }
    }
}


static void
snap_add(int a, long id)
{
    if (a < 0 || agents[a].nids == SNAP_IDS) {
        return;
    }
    snap_del(a, id);
    agents[a].ids[agents[a].nids++] = id;
}


static void
ring_push(long id)
{
    ring[ring_n++ % RING] = id;
}


/* a desk intake was acknowledged: its ticket and the customer's token */
static void
desk_acked(long id, const char *body)
{
    char  token[256];
    int   a;

    if (id < 1 || id > MAX_TICKET
        || json_str(body, "token", token, sizeof(token)) != 1)
    {
        return;
    }
    if (id >= tokens_cap) {
        long  ncap = tokens_cap ? tokens_cap : 65536;

        while (ncap <= id) {
            ncap *= 2;
        }
        tokens = xrealloc(tokens, ncap * sizeof(char *));
        memset(tokens + tokens_cap, 0, (ncap - tokens_cap) * sizeof(char *));
        tokens_cap = ncap;
    }
    if (tokens[id] != NULL) {
        return;     /* a replay through its Idempotency-Key */
    }
    tokens[id] = strdup(token);
    if (tokens[id] == NULL) {
        die("out of memory");
    }
    if (nacked == acked_cap) {
        acked_cap = acked_cap ? acked_cap * 2 : 65536;
        acked = xrealloc(acked, acked_cap * sizeof(long));
    }
    acked[nacked++] = id;

    if (json_str(body, "agent", token, sizeof(token)) == 1
        && (a = agent_index(token)) >= 0)
    {
        snap_add(a, id);
    }
    if (json_str(body, "state", token, sizeof(token)) == 1
        && strcmp(token, "auto_resolved") == 0)
    {
        /* answered by a rule: for its customer to reopen, or to close */
        ring_push(id);
    }
}


/* an acknowledged desk ticket, mostly among the latest */
static long
pick_ticket(void)
{
    if (nacked == 0) {
        return -1;
    }
    if (rnd_below(4) != 0 && nacked > RECENT) {
        return acked[nacked - 1 - rnd_below(RECENT)];
    }
    return acked[rnd_below(nacked)];
}


/* one made pending or solved lately, else any */
static long
pick_reopenable(void)
{
    if (ring_n > 0 && rnd_below(10) < 7) {
        return ring[rnd_below(ring_n < RING ? ring_n : RING)];
    }
    return pick_ticket();
}


/* an agent and a ticket of its queue as last read; 0: none known */
static int
pick_agent_ticket(int *a, long *id)
{
    int  k, start = (int) rnd_below(nagents);

    for (k = 0; k < nagents; k++) {
        agent_t  *ag = &agents[(start + k) % nagents];

        if (ag->nids > 0) {
            *a = (start + k) % nagents;
            *id = ag->ids[rnd_below(ag->nids)];
            return 1;
        }
    }
    return 0;
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


/* a request in wbuf; body NULL: none (a GET) */
static void
http_request(conn_t *c, const char *method, const char *path,
    const char *auth, const char *idem, const char *body)
{
    int   n = 0;
    char  hdr[512];

    hdr[0] = '\0';
    if (auth != NULL) {
        n += snprintf(hdr + n, sizeof(hdr) - n,
                      "Authorization: Bearer %s\r\n", auth);
    }
    if (idem != NULL) {
        snprintf(hdr + n, sizeof(hdr) - n, "Idempotency-Key: %s\r\n", idem);
    }

    if (body == NULL) {
        c->wlen = snprintf(c->wbuf, sizeof(c->wbuf),
                           "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                           method, path, targets[c->target].name, hdr);

    } else {
        c->wlen = snprintf(c->wbuf, sizeof(c->wbuf),
                           "%s %s HTTP/1.1\r\n"
                           "Host: %s\r\n"
                           "Content-Type: application/json\r\n"
                           "%s"
                           "Content-Length: %zu\r\n"
                           "\r\n%s",
                           method, path, targets[c->target].name, hdr,
                           strlen(body), body);
    }
    if (c->wlen >= sizeof(c->wbuf)) {
        die("a request does not fit its buffer");
    }
    c->woff = 0;
}


/* the desk call chosen for c (c->call), to send as request i */
static void
build_op(conn_t *c, long i)
{
    char       path[256], body[256], key[160];
    opcall_t  *o = &c->call;
    agent_t   *a = o->agent >= 0 ? &agents[o->agent] : NULL;
    char      *auth = strcmp(o->actor, "admin") == 0 ? admin_key
                      : a != NULL ? a->token : NULL;

    snprintf(key, sizeof(key), "%s-%ld", tag, i);
    snprintf(path, sizeof(path), "%stickets/%ld/%s", desk_prefix, o->ticket,
             o->op == OP_REPLY || o->op == OP_CUSTOMER ? "messages"
             : o->op == OP_ASSIGN || o->op == OP_UNASSIGN ? "assign"
             : "status");

    switch (o->op) {
    case OP_QUEUE:
        snprintf(path, sizeof(path), "%sagents/%s/queue?limit=%d",
                 desk_prefix, a->name, SNAP_IDS);
        http_request(c, "GET", path, auth, NULL, NULL);
        return;

    case OP_REPLY:
    case OP_CUSTOMER:
        snprintf(o->arg, sizeof(o->arg), "%s %s",
                 o->op == OP_REPLY ? "reply" : "customer", key);
        snprintf(body, sizeof(body), "{\"body\":\"%s\"}", o->arg);
        if (o->op == OP_CUSTOMER) {
            auth = tokens[o->ticket];
        }
        http_request(c, "POST", path, auth, key, body);
        return;

    case OP_PENDING:
    case OP_SOLVED:
    case OP_CLOSE:
        snprintf(body, sizeof(body), "{\"state\":\"%s\"}",
                 o->op == OP_PENDING ? "pending"
                 : o->op == OP_SOLVED ? "solved" : "closed");
        http_request(c, "POST", path, auth, NULL, body);
        return;

    case OP_ASSIGN:
        snprintf(o->arg, sizeof(o->arg), "%s", agents[o->to].name);
        snprintf(body, sizeof(body), "{\"agent\":\"%s\"}", o->arg);
        http_request(c, "POST", path, auth, NULL, body);
        return;

    case OP_UNASSIGN:
        snprintf(o->arg, sizeof(o->arg), "null");
        http_request(c, "POST", path, auth, NULL, "{\"agent\":null}");
        return;

    case OP_PRESENCE:
        snprintf(path, sizeof(path), "%sagents/%s/presence", desk_prefix,
                 a->name);
        snprintf(body, sizeof(body), "{\"status\":\"%s\"}", o->arg);
        http_request(c, "PUT", path, auth, NULL, body);
        return;

    default:    /* OP_CAPACITY */
        snprintf(path, sizeof(path), "%sagents/%s", desk_prefix, a->name);
        snprintf(body, sizeof(body), "{\"capacity\":%d}", o->capacity);
        http_request(c, "PUT", path, auth, NULL, body);
        return;
    }
}


/* the desk call a free desk connection makes next, in c->call; 0: an
 * intake instead */
static int
choose_op(conn_t *c)
{
    int        k, r, a;
    long       id;
    opcall_t  *o = &c->call;

    r = (int) rnd_below(100);
    for (k = 0; k < OP_N && r >= op_weights[k]; k++) {
        r -= op_weights[k];
    }
    if (k == OP_N || nacked == 0) {
        return 0;
    }

    o->op = k;
    o->ticket = -1;
    o->agent = -1;
    o->to = -1;
    o->arg[0] = '\0';
    a = (int) rnd_below(nagents);

    switch (k) {
    case OP_REPLY:
    case OP_PENDING:
    case OP_SOLVED:
    case OP_ASSIGN:
    case OP_UNASSIGN:
        if (!pick_agent_ticket(&a, &id)) {
            o->op = OP_QUEUE;
            break;
        }
        o->ticket = id;
        if (k == OP_ASSIGN) {
            o->to = (a + 1 + (int) rnd_below(nagents - 1)) % nagents;
        }
        /* the admin does a share of what agents do */
        if (k != OP_REPLY && rnd_below(10) < (k == OP_ASSIGN ? 5 : 2)) {
            snprintf(o->actor, sizeof(o->actor), "admin");
            o->agent = a;
            return 1;
        }
        break;

    case OP_CLOSE:
        o->ticket = pick_reopenable();
        snprintf(o->actor, sizeof(o->actor), "admin");
        return 1;

    case OP_CUSTOMER:
        o->ticket = pick_reopenable();
        if (o->ticket >= tokens_cap || tokens[o->ticket] == NULL) {
            /* stored, but its 201 was never seen: no token */
            o->ticket = acked[rnd_below(nacked)];
        }
        snprintf(o->actor, sizeof(o->actor), "customer");
        return 1;

    case OP_PRESENCE:
        snprintf(o->arg, sizeof(o->arg), "%s",
                 rnd_below(10) < 3 ? "away" : "online");
        break;

    case OP_CAPACITY:
        if (agents[a].cap_busy) {
            /* one at a time, so that they apply in the order sent */
            o->op = OP_QUEUE;
            break;
        }
        agents[a].cap_busy = 1;
        if (agents[a].grow) {
            if (agents[a].capacity < 6) {
                agents[a].capacity++;
            }

        } else {
            agents[a].capacity = 1 + (int) rnd_below(5);
        }
        o->capacity = agents[a].capacity;
        snprintf(o->arg, sizeof(o->arg), "%s=%d", agents[a].name,
                 o->capacity);
        snprintf(o->actor, sizeof(o->actor), "admin");
        o->agent = a;
        return 1;
    }

    o->agent = a;
    snprintf(o->actor, sizeof(o->actor), "%s", agents[a].name);
    return 1;
}


static void
build_request(conn_t *c, long i)
{
    int          desk = kinds[i] == K_DESK;
    char         body[1024], user[160], issue[512], key[160], path[256];
    const char  *prio, *chan;

    if (kinds[i] == K_OP) {
        build_op(c, i);
        return;
    }

    fields(i, user, sizeof(user), issue, sizeof(issue), &prio, &chan);
    if (desk && i % 5 == 0) {
        /* the desk's cs_rule answers it: auto_resolved */
        strncat(issue, " (password reset)", sizeof(issue) - strlen(issue) - 1);
    }

    snprintf(body, sizeof(body),
             "{\"userId\":\"%s\",\"issue\":\"%s\","
             "\"priority\":\"%s\",\"channel\":\"%s\"}",
             user, issue, prio, chan);

    snprintf(key, sizeof(key), "%s-%ld", tag, i);
    snprintf(path, sizeof(path), "%sservice",
             desk ? desk_prefix : "/api/");

    http_request(c, "POST", path, NULL, with_key ? key : NULL, body);

    if (out && c->try_no == 1) {
        fprintf(out, "Q\t%ld\t%s-%ld\t%s\t%s\t%s\t%s\t%s\n",
                i, tag, i, user, prio, chan, issue, desk ? "desk" : "v1");
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


/* a desk call's answer: recorded, counted, and what it shows kept */
static void
settle_op(conn_t *c, int status, const char *body, int pid, const char *err)
{
    int          to;
    long         id;
    char         agent[72] = "-", state[64] = "-", code[64] = "-";
    const char  *p;
    opcall_t    *o = &c->call;

    if (body != NULL) {
        if (json_str(body, "agent", agent, sizeof(agent)) == 0) {
            snprintf(agent, sizeof(agent), "null");
        }
        json_str(body, "state", state, sizeof(state));
        json_str(body, "error", code, sizeof(code));
    }
    if (err != NULL) {
        snprintf(code, sizeof(code), "%s", err);
    }

    if (out) {
        char  tbuf[32] = "-", pbuf[32] = "-";

        if (o->ticket >= 0) {
            snprintf(tbuf, sizeof(tbuf), "%ld", o->ticket);
        }
        if (pid > 0) {
            snprintf(pbuf, sizeof(pbuf), "%d", pid);
        }
        fprintf(out, "L\t%ld\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%d\t%s\t%s"
                "\t%s\t%s\t%s\t%ld\n",
                c->req, op_names[o->op], tbuf, o->actor,
                o->arg[0] ? o->arg : "-", c->sent_ms, wall_ms(), status,
                code, state, agent, pbuf, targets[c->target].name, issued);
    }

    n_ops++;
    if (status >= 200 && status < 300) {
        n_ops_2xx++;
    } else if (status == 403) {
        n_ops_403++;
    } else if (status == 409) {
        n_ops_409++;
    } else if (status >= 400 && status < 500) {
        n_ops_4xx++;
    } else if (status >= 500) {
        n_ops_5xx++;
    } else {
        n_ops_conn++;
    }

    in_flight--;
    c->req = -1;
    finished++;

    to = agent_index(agent);

    if (o->op == OP_CAPACITY) {
        agents[o->agent].cap_busy = 0;
    }

    if (status == 403 || status == 404 || status == 409) {
        /* the ticket moved meanwhile: no longer this agent's to work on */
        if (o->ticket >= 0) {
            snap_del(o->agent, o->ticket);
        }
        return;
    }
    if (status < 200 || status >= 300) {
        return;
    }

    switch (o->op) {
    case OP_QUEUE:
        agents[o->agent].nids = 0;
        for (p = strstr(body, "\"ticketId\":"); p != NULL;
             p = strstr(p + 11, "\"ticketId\":"))
        {
            id = strtol(p + 11, NULL, 10);
            snap_add(o->agent, id);
        }
        break;

    case OP_PENDING:
        ring_push(o->ticket);
        break;

    case OP_SOLVED:
        ring_push(o->ticket);
        snap_del(o->agent, o->ticket);
        break;

    case OP_CLOSE:
        snap_del(to, o->ticket);
        break;

    case OP_CUSTOMER:
        if (strcmp(state, "assigned") == 0) {
            snap_add(to, o->ticket);
        }
        break;

    case OP_ASSIGN:
    case OP_UNASSIGN:
        snap_del(o->agent, o->ticket);
        snap_add(to, o->ticket);
        break;
    }
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

    if (kinds[i] == K_OP) {
        settle_op(c, status, body, pid, err);
        return;
    }

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
            if (kinds[i] == K_DESK && body != NULL) {
                desk_acked(ticket, body);
            }
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


/* the -A file: "admin KEY", "agent NAME TOKEN CAPACITY grow|swing" */
static void
load_creds(const char *path)
{
    int    cap;
    char   line[512], word[16], name[65], token[256], mode[16];
    FILE  *f = fopen(path, "r");

    if (f == NULL) {
        die("cannot open the desk's credentials (-A)");
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%15s", word) != 1) {
            continue;
        }
        if (strcmp(word, "admin") == 0) {
            if (sscanf(line, "%*s %255s", admin_key) != 1) {
                die("a bad admin line in -A");
            }

        } else if (strcmp(word, "agent") == 0) {
            if (nagents == MAX_AGENTS
                || sscanf(line, "%*s %64s %255s %d %15s", name, token, &cap,
                          mode) != 4)
            {
                die("a bad agent line in -A (or too many agents)");
            }
            snprintf(agents[nagents].name, sizeof(agents[0].name), "%s",
                     name);
            snprintf(agents[nagents].token, sizeof(agents[0].token), "%s",
                     token);
            agents[nagents].capacity = cap;
            agents[nagents].grow = strcmp(mode, "grow") == 0;
            nagents++;
        }
    }
    fclose(f);
    if (admin_key[0] == '\0' || nagents < 2) {
        die("-A needs an admin key and at least two agents");
    }
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
        "[-P pid,pid...]\n"
        "            [-l desk_conns -A creds_file [-x desk_prefix]]\n");
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

    while ((opt = getopt(argc, argv, "t:c:d:n:r:o:k:R:w:T:D:s:u:qP:l:A:x:"))
           != -1)
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
        case 'l': nlife = atoi(optarg); break;
        case 'A': creds_path = optarg; break;
        case 'x': desk_prefix = optarg; break;
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
        || users < 1 || max_requests < 1 || nlife < 0
        || (nlife > 0 && creds_path == NULL))
    {
        usage();
    }

    nall = nconns + nlife;
    if (nlife > 0) {
        load_creds(creds_path);
    }
    for (p = tag; *p; p++) {
        rnd_state = (rnd_state ^ (uint8_t) *p) * 1099511628211ULL;
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
    kinds = calloc(tries_cap, 1);
    conns = calloc(nall, sizeof(conn_t));
    if (tries == NULL || kinds == NULL || conns == NULL) {
        die("out of memory");
    }

    ep = epoll_create1(0);
    if (ep < 0) {
        die("epoll_create1 failed");
    }

    for (k = 0; k < nall; k++) {
        conns[k].fd = -1;
        conns[k].req = -1;
        conns[k].target = k % ntargets;
        conns[k].desk = k >= nconns;
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
        for (k = 0; k < nall; k++) {
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
            if (now < end && issued < max_requests && rq_len < nall) {
                if (rate > 0) {
                    double  due = rate * (now - start) / 1000;

                    if (due - paced < 1) {
                        continue;
                    }
                    if (due - paced > nall) {
                        /* fell behind: do not burst to catch up */
                        paced = due - nall;
                    }
                    paced++;
                }
                kinds[issued] = !c->desk ? K_INTAKE
                                : choose_op(c) ? K_OP : K_DESK;
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
        for (k = 0; k < nall; k++) {
            if (conns[k].req >= 0 && now > conns[k].deadline) {
                n_timeouts++;
                conn_fail(&conns[k], "timeout");
            }
        }
    }

    /* the drain bound: what is still open is abandoned */
    for (k = 0; k < nall; k++) {
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

    if (nlife > 0) {
        /* the desk's calls (its intakes are counted below with the rest) */
        printf("desk: desk_acked=%ld ops=%ld ops_2xx=%ld ops_403=%ld"
               " ops_409=%ld ops_4xx=%ld ops_5xx=%ld ops_conn=%ld\n",
               nacked, n_ops, n_ops_2xx, n_ops_403, n_ops_409, n_ops_4xx,
               n_ops_5xx, n_ops_conn);
    }

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
