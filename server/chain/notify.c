/*
 * server/chain/notify.c — the ZMQ subscriber (notify.h), over Debian's
 * libzmq.
 */
#include "chain/notify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

struct kura_notify {
    void *ctx;
    void *socks[2];     /* one per endpoint (one socket when both are the same) */
    int nsocks;
    kura_notify_fn fn;
    void *arg;
    pthread_t thread;
    atomic_int stop;
    uint32_t last[2];   /* per topic: the last sequence number seen */
    int have[2];
};

static void *notify_main(void *varg)
{
    kura_notify *n = varg;
    while (!atomic_load(&n->stop)) {
        zmq_pollitem_t items[2];
        for (int i = 0; i < n->nsocks; i++) {
            items[i].socket = n->socks[i];
            items[i].fd = 0;
            items[i].events = ZMQ_POLLIN;
            items[i].revents = 0;
        }
        if (zmq_poll(items, n->nsocks, 100) <= 0)
            continue;
        for (int i = 0; i < n->nsocks; i++) {
            zmq_msg_t part[3];
            int nparts = 0, more = 1;
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            /* One message: its frames, however many (only 3 are Core's form). */
            while (more) {
                zmq_msg_t extra, *m = nparts < 3 ? &part[nparts] : &extra;
                zmq_msg_init(m);
                if (zmq_msg_recv(m, n->socks[i], ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(m);
                    break;
                }
                more = zmq_msg_more(m);
                if (m == &extra)
                    zmq_msg_close(m);
                nparts += nparts < 3;
            }
            if (nparts == 3 && zmq_msg_size(&part[2]) == 4) {
                const char *topic = zmq_msg_data(&part[0]);
                size_t tlen = zmq_msg_size(&part[0]);
                const uint8_t *s = zmq_msg_data(&part[2]);
                uint32_t seq = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                               (uint32_t)s[3] << 24;
                int t = tlen == 9 && memcmp(topic, "hashblock", 9) == 0 ? KURA_NOTIFY_HASHBLOCK
                        : tlen == 5 && memcmp(topic, "rawtx", 5) == 0   ? KURA_NOTIFY_RAWTX
                                                                        : -1;
                if (t >= 0) {
                    int gap = n->have[t] && seq != n->last[t] + 1u;
                    n->last[t] = seq;
                    n->have[t] = 1;
                    n->fn(n->arg, t, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), gap);
                }
            }
            for (int k = 0; k < nparts; k++)
                zmq_msg_close(&part[k]);
        }
    }
    return NULL;
}

static void *subscriber(kura_notify *n, const char *endpoint, char *errbuf, size_t errlen)
{
    void *s = zmq_socket(n->ctx, ZMQ_SUB);
    int ivl = 100, ivl_max = 5000, keepalive = 1, hwm = 0, linger = 0;
    if (!s) {
        snprintf(errbuf, errlen, "zmq: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    /* Reconnect soon after the node comes back; keep every message the
     * node sends (hwm 0: no limit; Core's own send queue bounds it). */
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE, &keepalive, sizeof keepalive);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, endpoint) != 0) {
        snprintf(errbuf, errlen, "zmq: %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

int kura_notify_start(kura_notify **out, const char *hashblock, const char *rawtx,
                      kura_notify_fn fn, void *arg, char *errbuf, size_t errlen)
{
    kura_notify *n;
    int hb = hashblock && *hashblock, rt = rawtx && *rawtx;
    *out = NULL;
    if (!hb && !rt) {
        snprintf(errbuf, errlen, "zmq: no endpoint");
        return -1;
    }
    n = calloc(1, sizeof *n);
    if (!n || !(n->ctx = zmq_ctx_new())) {
        free(n);
        snprintf(errbuf, errlen, "zmq: out of memory");
        return -1;
    }
    n->fn = fn;
    n->arg = arg;
    atomic_init(&n->stop, 0);
    if (hb) {
        if (!(n->socks[n->nsocks] = subscriber(n, hashblock, errbuf, errlen)))
            goto fail;
        zmq_setsockopt(n->socks[n->nsocks], ZMQ_SUBSCRIBE, "hashblock", 9);
        if (rt && strcmp(hashblock, rawtx) == 0) {
            zmq_setsockopt(n->socks[n->nsocks], ZMQ_SUBSCRIBE, "rawtx", 5);
            rt = 0;
        }
        n->nsocks++;
    }
    if (rt) {
        if (!(n->socks[n->nsocks] = subscriber(n, rawtx, errbuf, errlen)))
            goto fail;
        zmq_setsockopt(n->socks[n->nsocks], ZMQ_SUBSCRIBE, "rawtx", 5);
        n->nsocks++;
    }
    if (pthread_create(&n->thread, NULL, notify_main, n) != 0) {
        snprintf(errbuf, errlen, "zmq: cannot start its thread");
        goto fail;
    }
    *out = n;
    return 0;
fail:
    for (int i = 0; i < n->nsocks; i++)
        zmq_close(n->socks[i]);
    zmq_ctx_term(n->ctx);
    free(n);
    return -1;
}

void kura_notify_stop(kura_notify *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, 1);
    pthread_join(n->thread, NULL);
    for (int i = 0; i < n->nsocks; i++)
        zmq_close(n->socks[i]);
    zmq_ctx_term(n->ctx);
    free(n);
}
