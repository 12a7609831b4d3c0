/*
 * bench/loadgen.c — kura-loadgen: an HTTP/1.1 load generator for kura-server's
 * bench section (bench/server.py drives it).
 *
 *   kura-loadgen closed HOST PORT SECONDS CONNECTIONS REQUEST-FILE
 *   kura-loadgen open   HOST PORT SECONDS RATE CONNECTIONS REQUEST-FILE
 *
 * REQUEST-FILE holds one request template: the method and path on the first
 * line, header lines, an empty line, the body. Every occurrence of "{n}" in
 * the header lines and the body is replaced by the request's sequence number
 * (so each request can carry a unique external_id and Idempotency-Key);
 * Content-Length is added.
 *
 * closed: CONNECTIONS keep-alive connections each send the next request as
 *   soon as the previous answer is in, for SECONDS: the most the server
 *   acknowledges per second.
 * open: requests are scheduled at a fixed RATE (request i at t0 + i/RATE)
 *   whatever the server does, over up to CONNECTIONS connections; a request
 *   whose time has come waits for a free connection if none is free. Its
 *   latency is measured from its SCHEDULED time to the last byte of its
 *   answer, so a server that stalls is charged for every request it held up
 *   (no coordinated omission).
 *
 * Prints one JSON object: requests sent, answers by class (2xx, other),
 * errors (connection failures, malformed answers), elapsed seconds, answers
 * per second, and latency percentiles in milliseconds (p50, p90, p99,
 * p99.9, max). Only loopback addresses are accepted as HOST.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 1024
#define READ_MAX (1u << 20)

typedef struct conn {
    int fd;
    int busy;             /* a request is in flight */
    double scheduled;     /* the in-flight request's scheduled (open) or send (closed) time */
    char *out;            /* the request bytes */
    size_t out_len, out_off;
    char *in;             /* the answer so far */
    size_t in_len;
} conn;

static struct {
    const char *head;     /* method, path, headers (no final empty line) */
    const char *body;
    size_t head_len, body_len;
} tmpl;

static struct sockaddr_in target;
static double *latencies;
static size_t lat_count, lat_cap;
static uint64_t sent, ok2xx, other, errors;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg)
{
    fprintf(stderr, "kura-loadgen: %s\n", msg);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void load_template(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text, *sep;
    long len = 0;
    if (!f)
        die("cannot open the request file");
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die("cannot read the request file");
    text = xmalloc((size_t)len + 1);
    if (fread(text, 1, (size_t)len, f) != (size_t)len)
        die("cannot read the request file");
    text[len] = '\0';
    fclose(f);
    sep = strstr(text, "\n\n");
    if (!sep)
        die("the request file needs an empty line between headers and body");
    *sep = '\0';
    tmpl.head = text;
    tmpl.head_len = strlen(text);
    tmpl.body = sep + 2;
    tmpl.body_len = strlen(tmpl.body);
    while (tmpl.body_len && tmpl.body[tmpl.body_len - 1] == '\n')
        tmpl.body_len--;
}

/* A copy of src[0..len) with every "{n}" replaced by num; its length in *out_len. */
static char *substitute(const char *src, size_t len, const char *num, size_t num_len, size_t *out_len)
{
    char *out = xmalloc(len + (len / 3 + 1) * num_len + 1);
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        if (i + 3 <= len && memcmp(src + i, "{n}", 3) == 0) {
            memcpy(out + k, num, num_len);
            k += num_len;
            i += 3;
        } else {
            out[k++] = src[i++];
        }
    }
    out[k] = '\0';
    *out_len = k;
    return out;
}

/* Builds request number n into c->out: "{n}" in the header lines (a unique
 * Idempotency-Key) and in the body become n. */
static void build_request(conn *c, uint64_t n)
{
    char num[24];
    size_t num_len = (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)n);
    size_t blen = 0, hlen = 0;
    char *body = substitute(tmpl.body, tmpl.body_len, num, num_len, &blen);
    char *head = substitute(tmpl.head, tmpl.head_len, num, num_len, &hlen);
    size_t cap = hlen + 256;
    free(c->out);
    c->out = xmalloc(cap + blen);
    c->out_len = (size_t)snprintf(c->out, cap, "%s\r\nContent-Length: %zu\r\n\r\n", head, blen);
    free(head);
    /* The template's header lines end in \n; HTTP wants \r\n. */
    {
        char *fixed = xmalloc(c->out_len * 2 + blen + 1);
        size_t k = 0;
        for (size_t i = 0; i < c->out_len; i++) {
            if (c->out[i] == '\n' && (i == 0 || c->out[i - 1] != '\r'))
                fixed[k++] = '\r';
            fixed[k++] = c->out[i];
        }
        memcpy(fixed + k, body, blen);
        free(c->out);
        c->out = fixed;
        c->out_len = k + blen;
    }
    free(body);
    c->out_off = 0;
}

static int open_conn(conn *c, int ep)
{
    struct epoll_event ev = {0};
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&target, sizeof target) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->busy = 0;
    c->in_len = 0;
    return 0;
}

static void reopen(conn *c, int ep)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->busy = 0;
    c->in_len = 0;
    if (open_conn(c, ep) != 0)
        errors++;
}

static void record(double latency)
{
    if (lat_count == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 65536;
        latencies = realloc(latencies, lat_cap * sizeof *latencies);
        if (!latencies)
            die("out of memory");
    }
    latencies[lat_count++] = latency;
}

/* Returns 1 when c->in holds one whole answer (sets *status), 0 when more
 * bytes are needed, -1 when it is malformed. */
static int answer_complete(conn *c, int *status)
{
    char *end, *cl;
    size_t head, body = 0;
    if (c->in_len < 12)
        return 0;
    end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end)
        return c->in_len > 65536 ? -1 : 0;
    head = (size_t)(end - c->in) + 4;
    if (sscanf(c->in, "HTTP/1.%*d %d", status) != 1)
        return -1;
    cl = memmem(c->in, head, "Content-Length:", 15);
    if (!cl)
        cl = memmem(c->in, head, "content-length:", 15);
    if (cl)
        body = (size_t)strtoull(cl + 15, NULL, 10);
    else if (memmem(c->in, head, "chunked", 7))
        return memmem(c->in + head, c->in_len - head, "0\r\n\r\n", 5) ? 1 : 0;
    return c->in_len >= head + body ? 1 : 0;
}

static void send_some(conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        c->out_off += (size_t)n;
    }
}

static void start(conn *c, uint64_t n, double scheduled)
{
    build_request(c, n);
    c->busy = 1;
    c->scheduled = scheduled;
    c->in_len = 0;
    sent++;
    send_some(c);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    size_t i;
    if (!lat_count)
        return 0;
    i = (size_t)(p * (double)(lat_count - 1) + 0.5);
    return latencies[i] * 1000.0;
}

int main(int argc, char **argv)
{
    int open_loop, ep;
    double seconds, rate = 0, t0, deadline;
    size_t nconn;
    conn *conns;
    uint64_t next_n = 0;
    const char *file;

    if (argc < 2)
        die("usage: kura-loadgen closed HOST PORT SECONDS CONNECTIONS FILE | "
            "open HOST PORT SECONDS RATE CONNECTIONS FILE");
    open_loop = strcmp(argv[1], "open") == 0;
    if (!open_loop && strcmp(argv[1], "closed") != 0)
        die("mode is closed or open");
    if (argc != (open_loop ? 8 : 7))
        die("wrong number of arguments");
    memset(&target, 0, sizeof target);
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &target.sin_addr) != 1 ||
        (ntohl(target.sin_addr.s_addr) >> 24) != 127)
        die("HOST must be a loopback IPv4 address (127.0.0.0/8)");
    seconds = atof(argv[4]);
    if (seconds <= 0 || seconds > 600)
        die("SECONDS must be in (0, 600]");
    if (open_loop) {
        rate = atof(argv[5]);
        if (rate <= 0 || rate > 100000)
            die("RATE must be in (0, 100000]");
    }
    nconn = (size_t)atoi(argv[open_loop ? 6 : 5]);
    if (nconn < 1 || nconn > MAX_CONNECTIONS)
        die("CONNECTIONS must be 1..1024");
    file = argv[open_loop ? 7 : 6];
    load_template(file);

    ep = epoll_create1(0);
    conns = calloc(nconn, sizeof *conns);
    if (ep < 0 || !conns)
        die("cannot set up");
    for (size_t i = 0; i < nconn; i++) {
        conns[i].fd = -1;
        conns[i].in = xmalloc(READ_MAX);
        if (open_conn(&conns[i], ep) != 0)
            die("cannot connect");
    }

    t0 = now_s();
    deadline = t0 + seconds;
    for (;;) {
        double t = now_s();
        struct epoll_event evs[64];
        int timeout_ms = 5, n;
        size_t busy = 0;
        if (open_loop) {
            /* Start every request whose time has come, on free connections. */
            /* Requests scheduled before the deadline are all sent, even when
             * the server's slowness pushes their start past it. */
            for (;;) {
                double when = t0 + (double)next_n / rate;
                conn *freec = NULL;
                if (when > t || when >= deadline)
                    break;
                for (size_t i = 0; i < nconn; i++)
                    if (!conns[i].busy && conns[i].fd >= 0) {
                        freec = &conns[i];
                        break;
                    }
                if (!freec)
                    break; /* it waits; its latency keeps counting from `when` */
                start(freec, next_n++, when);
            }
            {
                double when = t0 + (double)next_n / rate;
                if (when > t)
                    timeout_ms = (int)((when - t) * 1000.0);
                if (timeout_ms > 5)
                    timeout_ms = 5;
            }
        } else if (t < deadline) {
            for (size_t i = 0; i < nconn; i++)
                if (!conns[i].busy && conns[i].fd >= 0)
                    start(&conns[i], next_n++, t);
        }
        for (size_t i = 0; i < nconn; i++)
            busy += (size_t)conns[i].busy;
        if (t >= deadline && busy == 0 &&
            (!open_loop || t0 + (double)next_n / rate >= deadline))
            break;
        if (t > deadline + 30)
            break; /* the server stopped answering: report what came back */

        n = epoll_wait(ep, evs, 64, timeout_ms);
        for (int k = 0; k < n; k++) {
            conn *c = evs[k].data.ptr;
            if (evs[k].events & EPOLLOUT && c->busy)
                send_some(c);
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                    ssize_t r = recv(c->fd, c->in + c->in_len, READ_MAX - c->in_len, 0);
                    int status = 0, done;
                    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                        if (c->busy)
                            errors++;
                        reopen(c, ep);
                        break;
                    }
                    if (r < 0)
                        break;
                    c->in_len += (size_t)r;
                    done = answer_complete(c, &status);
                    if (done < 0 || (done == 0 && c->in_len == READ_MAX)) {
                        errors++;
                        reopen(c, ep);
                        break;
                    }
                    if (done == 1) {
                        double lat = now_s() - c->scheduled;
                        if (status >= 200 && status < 300)
                            ok2xx++;
                        else
                            other++;
                        record(lat);
                        c->busy = 0;
                        c->in_len = 0;
                        break;
                    }
                }
            }
        }
    }
    {
        double elapsed = now_s() - t0;
        qsort(latencies, lat_count, sizeof *latencies, cmp_double);
        printf("{\"mode\": \"%s\", \"sent\": %llu, \"ok\": %llu, \"other\": %llu, \"errors\": %llu, "
               "\"seconds\": %.3f, \"ok_per_s\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
               "\"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f}\n",
               open_loop ? "open" : "closed", (unsigned long long)sent,
               (unsigned long long)ok2xx, (unsigned long long)other, (unsigned long long)errors,
               elapsed, (double)ok2xx / elapsed, pct(0.50),
               pct(0.90), pct(0.99), pct(0.999), lat_count ? latencies[lat_count - 1] * 1000.0 : 0.0);
    }
    for (size_t i = 0; i < nconn; i++) {
        if (conns[i].fd >= 0)
            close(conns[i].fd);
        free(conns[i].in);
        free(conns[i].out);
    }
    free(conns);
    free(latencies);
    close(ep);
    return 0;
}
