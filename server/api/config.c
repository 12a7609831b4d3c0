/*
 * server/api/config.c — the configuration file (config.h).
 */
#include "api/config.h"
#include "domain/people.h"
#include "log/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kura_config_defaults(kura_server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen_addr, sizeof cfg->listen_addr, "127.0.0.1");
    cfg->port = 8420;
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "./kura-data");
    cfg->body_limit = (size_t)1 << 20;
    cfg->threads = 4;
    cfg->db_pool = 8;
    cfg->webhook_interval_ms = 1000;
    cfg->webhook_batch = 50;
    cfg->webhook_timeout_ms = 10000;
    cfg->expiry_interval = 30;
    cfg->default_fee_rate = 2;
    cfg->log_requests = 1;
    cfg->node_timeout_ms = 30000;
    cfg->node_poll_interval_ms = 5000;
    cfg->fee_floor = 1;
    cfg->fee_ceiling = 500;
    cfg->fee_target = 6;
    cfg->rebroadcast_interval = 600;
    cfg->batch_interval = 0;
    cfg->batch_min_requests = 1;
    cfg->batch_max_outputs = 250;
    cfg->hot_poll_interval_ms = 1000;
}

int kura_config_parse_listen(const char *s, char addr[64], uint16_t *port)
{
    const char *colon;
    size_t alen;
    char *end;
    unsigned long v;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        alen = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        alen = (size_t)(colon - s);
    }
    if (alen >= 64)
        return -1;
    if (alen == 0) {
        snprintf(addr, 64, "127.0.0.1");
    } else {
        memcpy(addr, s, alen);
        addr[alen] = '\0';
    }
    errno = 0;
    v = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int parse_i64(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long x;
    int64_t mul = 1;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (errno || end == v)
        return -1;
    if (*end == 'k' || *end == 'K') {
        mul = 1024;
        end++;
    } else if (*end == 'M') {
        mul = 1024 * 1024;
        end++;
    }
    /* The range holds for the value with its suffix: "0M" is 0, not allowed
     * when lo is 1024 (the check on x alone let it through). */
    if (*end || x < 0 || x > hi / mul || (int64_t)x * mul < lo)
        return -1;
    *out = (int64_t)x * mul;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
        *out = 1;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int set_str(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n >= cap)
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

int kura_config_set(kura_server_config *c, const char *key, const char *v, char *errbuf,
                    size_t errlen)
{
    int64_t x = 0;
    int rc = -1;
    if (!strcmp(key, "listen")) {
        rc = kura_config_parse_listen(v, c->listen_addr, &c->port);
    } else if (!strcmp(key, "data_dir")) {
        rc = set_str(c->data_dir, sizeof c->data_dir, v);
    } else if (!strcmp(key, "database")) {
        rc = set_str(c->database, sizeof c->database, v);
    } else if (!strcmp(key, "tls_cert")) {
        rc = set_str(c->tls_cert, sizeof c->tls_cert, v);
    } else if (!strcmp(key, "tls_key")) {
        rc = set_str(c->tls_key, sizeof c->tls_key, v);
    } else if (!strcmp(key, "body_limit")) {
        if ((rc = parse_i64(v, 1024, INT64_C(64) << 20, &x)) == 0)
            c->body_limit = (size_t)x;
    } else if (!strcmp(key, "threads")) {
        if ((rc = parse_i64(v, 1, 256, &x)) == 0)
            c->threads = (unsigned)x;
    } else if (!strcmp(key, "db_pool")) {
        if ((rc = parse_i64(v, 1, 1024, &x)) == 0)
            c->db_pool = (size_t)x;
    } else if (!strcmp(key, "webhook_interval_ms")) {
        if ((rc = parse_i64(v, 10, 3600000, &x)) == 0)
            c->webhook_interval_ms = x;
    } else if (!strcmp(key, "webhook_batch")) {
        if ((rc = parse_i64(v, 1, 10000, &x)) == 0)
            c->webhook_batch = (unsigned)x;
    } else if (!strcmp(key, "webhook_timeout_ms")) {
        if ((rc = parse_i64(v, 100, 600000, &x)) == 0)
            c->webhook_timeout_ms = x;
    } else if (!strcmp(key, "expiry_interval")) {
        if ((rc = parse_i64(v, 1, 86400, &x)) == 0)
            c->expiry_interval = x;
    } else if (!strcmp(key, "default_fee_rate")) {
        if ((rc = parse_i64(v, 1, 100000, &x)) == 0)
            c->default_fee_rate = x;
    } else if (!strcmp(key, "node_url")) {
        rc = (v[0] == '\0' || !strncmp(v, "http://", 7) || !strncmp(v, "https://", 8))
                 ? set_str(c->node_url, sizeof c->node_url, v)
                 : -1;
    } else if (!strcmp(key, "node_cookie_file")) {
        rc = set_str(c->node_cookie_file, sizeof c->node_cookie_file, v);
    } else if (!strcmp(key, "node_user")) {
        rc = set_str(c->node_user, sizeof c->node_user, v);
    } else if (!strcmp(key, "node_password")) {
        rc = set_str(c->node_password, sizeof c->node_password, v);
    } else if (!strcmp(key, "node_timeout_ms")) {
        if ((rc = parse_i64(v, 100, 600000, &x)) == 0)
            c->node_timeout_ms = x;
    } else if (!strcmp(key, "zmq_hashblock") || !strcmp(key, "zmq_rawtx")) {
        char *dst = !strcmp(key, "zmq_hashblock") ? c->zmq_hashblock : c->zmq_rawtx;
        rc = (v[0] == '\0' || !strncmp(v, "tcp://", 6) || !strncmp(v, "ipc://", 6))
                 ? set_str(dst, sizeof c->zmq_hashblock, v)
                 : -1;
    } else if (!strcmp(key, "node_poll_interval_ms")) {
        if ((rc = parse_i64(v, 100, 3600000, &x)) == 0)
            c->node_poll_interval_ms = x;
    } else if (!strcmp(key, "fee_floor")) {
        if ((rc = parse_i64(v, 1, 100000, &x)) == 0)
            c->fee_floor = x;
    } else if (!strcmp(key, "fee_ceiling")) {
        if ((rc = parse_i64(v, 1, 100000, &x)) == 0)
            c->fee_ceiling = x;
    } else if (!strcmp(key, "fee_target")) {
        if ((rc = parse_i64(v, 1, 1008, &x)) == 0)
            c->fee_target = x;
    } else if (!strcmp(key, "rebroadcast_interval")) {
        if ((rc = parse_i64(v, 10, 86400, &x)) == 0)
            c->rebroadcast_interval = x;
    } else if (!strcmp(key, "batch_interval")) {
        if ((rc = parse_i64(v, 0, 86400, &x)) == 0)
            c->batch_interval = x;
    } else if (!strcmp(key, "batch_min_requests")) {
        if ((rc = parse_i64(v, 1, 1000, &x)) == 0)
            c->batch_min_requests = x;
    } else if (!strcmp(key, "batch_max_outputs")) {
        if ((rc = parse_i64(v, 1, 1000, &x)) == 0)
            c->batch_max_outputs = x;
    } else if (!strcmp(key, "hot_spool")) {
        /* WALLET DIR: the wallet's id or name, a space, the spool directory. */
        const char *sp = strchr(v, ' ');
        size_t wl = sp ? (size_t)(sp - v) : 0, i = c->hot_spool_count;
        while (sp && *sp == ' ')
            sp++;
        if (sp && wl > 0 && wl < sizeof c->hot_spool_wallet[0] && *sp &&
            i < KURA_CONFIG_HOT_SPOOLS_MAX && !set_str(c->hot_spool_dir[i], sizeof c->hot_spool_dir[i], sp)) {
            memcpy(c->hot_spool_wallet[i], v, wl);
            c->hot_spool_wallet[i][wl] = '\0';
            c->hot_spool_count++;
            rc = 0;
        }
    } else if (!strcmp(key, "hot_poll_interval_ms")) {
        if ((rc = parse_i64(v, 10, 3600000, &x)) == 0)
            c->hot_poll_interval_ms = x;
    } else if (!strcmp(key, "log_format")) {
        kura_log_format f;
        if ((rc = kura_log_format_parse(v, &f)) == 0)
            c->log_format = f == KURA_LOG_JSON;
    } else if (!strcmp(key, "log_requests")) {
        rc = parse_bool(v, &c->log_requests);
    } else if (!strcmp(key, "trusted_proxies")) {
        rc = *v && kura_cidrs_valid(v) ? set_str(c->trusted_proxies, sizeof c->trusted_proxies, v) : -1;
    } else if (!strcmp(key, "web_root")) {
        rc = *v ? set_str(c->web_root, sizeof c->web_root, v) : -1;
    } else {
        snprintf(errbuf, errlen, "unknown key '%.64s'", key);
        return -1;
    }
    if (rc)
        snprintf(errbuf, errlen, "%.64s: bad value '%.128s'", key, v);
    return rc;
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

int kura_config_parse(kura_server_config *cfg, const char *text, size_t len, char *errbuf,
                      size_t errlen)
{
    size_t pos = 0;
    unsigned lineno = 0;
    char line[2048];
    while (pos < len) {
        size_t start = pos, n;
        while (pos < len && text[pos] != '\n')
            pos++;
        n = pos - start;
        if (pos < len)
            pos++;
        lineno++;
        if (n >= sizeof line) {
            snprintf(errbuf, errlen, "line %u: too long", lineno);
            return -1;
        }
        memcpy(line, text + start, n);
        line[n] = '\0';
        if (memchr(line, '\0', n)) {
            snprintf(errbuf, errlen, "line %u: NUL byte", lineno);
            return -1;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(errbuf, errlen, "line %u: expected key = value", lineno);
            return -1;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        char sub[200];
        if (kura_config_set(cfg, key, val, sub, sizeof sub)) {
            snprintf(errbuf, errlen, "line %u: %s", lineno, sub);
            return -1;
        }
    }
    return 0;
}
