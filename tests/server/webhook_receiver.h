/*
 * tests/server/webhook_receiver.h — a tiny HTTP receiver for webhook tests:
 * libmicrohttpd on 127.0.0.1, an OS-chosen port, recording every request
 * and answering with a status the test sets.
 */
#ifndef KURA_TEST_WEBHOOK_RECEIVER_H
#define KURA_TEST_WEBHOOK_RECEIVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define RECEIVER_MAX 256

typedef struct received {
    char event_id[64];
    char signature[128];
    char audit_head[128];
    char content_type[64];
    char *body;       /* NUL-terminated copy */
    size_t len;
    int64_t mono_ms;  /* when it arrived (CLOCK_MONOTONIC) */
    unsigned status;  /* what was answered */
} received;

typedef struct receiver {
    struct MHD_Daemon *daemon;
    uint16_t port;
    char url[64];
    pthread_mutex_t lock;
    received req[RECEIVER_MAX];
    size_t count;
    unsigned fail_first;   /* answer fail_status to the first N requests */
    unsigned fail_status;  /* default 500 */
    int always_fail;       /* answer fail_status to everything */
} receiver;

/* Starts it; fails the test if it cannot. */
void receiver_start(receiver *r);
/* Stops it and frees what it recorded. */
void receiver_stop(receiver *r);
/* How many requests so far (locked). */
size_t receiver_count(receiver *r);
/* Sets the failure mode (locked). */
void receiver_set(receiver *r, unsigned fail_first, int always_fail, unsigned status);

int64_t receiver_mono_ms(void);

#endif
