/*
 * tests/server/webhook_receiver.c — see webhook_receiver.h.
 */
#include "webhook_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>
#include <microhttpd.h>

int64_t receiver_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct upload {
    char *data;
    size_t len;
} upload;

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t n)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, n, "%s", v ? v : "");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    receiver *r = cls;
    upload *u = *con_cls;
    struct MHD_Response *resp;
    unsigned status = 200;
    enum MHD_Result ret;
    (void)url;
    (void)version;
    (void)method;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u)
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size) {
        char *p = realloc(u->data, u->len + *upload_data_size + 1);
        if (!p)
            return MHD_NO;
        u->data = p;
        memcpy(u->data + u->len, upload_data, *upload_data_size);
        u->len += *upload_data_size;
        u->data[u->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->lock);
    if (r->count < RECEIVER_MAX) {
        received *q = &r->req[r->count];
        copy_header(c, "Kura-Event-Id", q->event_id, sizeof q->event_id);
        copy_header(c, "Kura-Signature", q->signature, sizeof q->signature);
        copy_header(c, "Kura-Audit-Head", q->audit_head, sizeof q->audit_head);
        copy_header(c, "Content-Type", q->content_type, sizeof q->content_type);
        q->body = u->data ? u->data : strdup("");
        q->len = u->len;
        u->data = NULL;
        q->mono_ms = receiver_mono_ms();
        if (r->always_fail || r->count < r->fail_first)
            status = r->fail_status ? r->fail_status : 500;
        q->status = status;
        r->count++;
    }
    pthread_mutex_unlock(&r->lock);
    resp = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    upload *u = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (u) {
        free(u->data);
        free(u);
        *con_cls = NULL;
    }
}

void receiver_start(receiver *r)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
                                 NULL, handle, r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!r->daemon)
        fail_msg("cannot start the test receiver");
    info = MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || !info->port)
        fail_msg("the test receiver has no port");
    r->port = info->port;
    snprintf(r->url, sizeof r->url, "http://127.0.0.1:%u/hook", (unsigned)r->port);
}

void receiver_stop(receiver *r)
{
    if (r->daemon)
        MHD_stop_daemon(r->daemon);
    r->daemon = NULL;
    for (size_t i = 0; i < r->count; i++)
        free(r->req[i].body);
    r->count = 0;
    pthread_mutex_destroy(&r->lock);
}

size_t receiver_count(receiver *r)
{
    size_t n;
    pthread_mutex_lock(&r->lock);
    n = r->count;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void receiver_set(receiver *r, unsigned fail_first, int always_fail, unsigned status)
{
    pthread_mutex_lock(&r->lock);
    r->fail_first = fail_first;
    r->always_fail = always_fail;
    r->fail_status = status;
    pthread_mutex_unlock(&r->lock);
}
