/*
 * server/api/config.h — kura-server's configuration file: `key = value`
 * lines, `#` comments, blank lines ignored (docs/kura-server.md lists every
 * key; server/kura-server.conf.example is a commented example). Command-line
 * flags override the file.
 */
#ifndef KURA_SERVER_API_CONFIG_H
#define KURA_SERVER_API_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* The most hot_spool lines (domain/hot.h's KURA_HOT_SPOOLS_MAX). */
#define KURA_CONFIG_HOT_SPOOLS_MAX 16

typedef struct kura_server_config {
    char listen_addr[64];        /* listen = ADDR:PORT ("127.0.0.1:8420", "[::1]:8420") */
    uint16_t port;
    char data_dir[1024];         /* data_dir: where the SQLite database lives */
    char database[1024];         /* database: a db.h URL; "": sqlite:<data_dir>/kura.db */
    char tls_cert[1024];         /* tls_cert, tls_key: PEM files; both or neither */
    char tls_key[1024];
    size_t body_limit;           /* body_limit: bytes (suffix k, M allowed) */
    unsigned threads;            /* threads: HTTP worker threads */
    size_t db_pool;              /* db_pool: database connections */
    int64_t webhook_interval_ms; /* webhook_interval_ms: worker poll interval */
    unsigned webhook_batch;      /* webhook_batch: deliveries per worker round */
    int64_t webhook_timeout_ms;  /* webhook_timeout_ms: per delivery */
    int64_t expiry_interval;     /* expiry_interval: seconds between expiry sweeps */
    int64_t default_fee_rate;    /* default_fee_rate: sat/vB when no estimate */
    int log_requests;            /* log_requests: yes/no */
    char trusted_proxies[1024];  /* trusted_proxies: CIDRs of reverse proxies whose
                                  * X-Forwarded-For names the client; "": none */
    int log_format;              /* log_format: text (0) or json (1), log/log.h */
    char web_root[1024];         /* web_root: the web pages' directory; "": the built
                                  * web/dist when present; "off": none */
    /* The Bitcoin Core node (server/chain/); node_url "" = no chain follower. */
    char node_url[512];          /* node_url: http://127.0.0.1:8332/ */
    char node_cookie_file[1024]; /* node_cookie_file: Core's .cookie */
    char node_user[128];         /* node_user, node_password: rpcauth/rpcuser */
    char node_password[256];
    int64_t node_timeout_ms;     /* node_timeout_ms: per RPC attempt */
    int64_t node_poll_interval_ms; /* node_poll_interval_ms: follower poll */
    char zmq_hashblock[256];     /* zmq_hashblock: Core's -zmqpubhashblock address ("": none) */
    char zmq_rawtx[256];         /* zmq_rawtx: Core's -zmqpubrawtx address ("": none) */
    int64_t fee_floor;           /* fee_floor: sat/vB, the lowest rate used */
    int64_t fee_ceiling;         /* fee_ceiling: sat/vB, the highest rate used */
    int64_t fee_target;          /* fee_target: estimatesmartfee target, blocks */
    int64_t rebroadcast_interval; /* rebroadcast_interval: seconds */
    /* Scheduled batching of queued withdrawals (domain/withdrawals.h). */
    int64_t batch_interval;      /* batch_interval: seconds between rounds; 0: off */
    int64_t batch_min_requests;  /* batch_min_requests: queued requests a wallet needs */
    int64_t batch_max_outputs;   /* batch_max_outputs: requests per batch transfer */
    /* Hot wallets (domain/hot.h): "hot_spool = WALLET DIR", one line per hot
     * wallet (WALLET its id or name; DIR what `kura-cold serve --spool` serves). */
    size_t hot_spool_count;
    char hot_spool_wallet[KURA_CONFIG_HOT_SPOOLS_MAX][128];
    char hot_spool_dir[KURA_CONFIG_HOT_SPOOLS_MAX][1024];
    int64_t hot_poll_interval_ms; /* hot_poll_interval_ms: between spool passes */
} kura_server_config;

/* Fills cfg with the defaults (listen 127.0.0.1:8420, data_dir ./kura-data, ...). */
void kura_config_defaults(kura_server_config *cfg);

/* Reads config text text[0..len) into cfg (over what it holds). Returns 0, or
 * -1 with errbuf naming the line and the problem (unknown key, bad value). */
int kura_config_parse(kura_server_config *cfg, const char *text, size_t len, char *errbuf,
                      size_t errlen);

/* Sets one key (as in the file) from a string. Returns 0 or -1 with errbuf. */
int kura_config_set(kura_server_config *cfg, const char *key, const char *value, char *errbuf,
                    size_t errlen);

/* Splits "ADDR:PORT" / "[V6]:PORT" / ":PORT" into addr (64 bytes) and port.
 * Returns 0 or -1. */
int kura_config_parse_listen(const char *s, char addr[64], uint16_t *port);

#endif /* KURA_SERVER_API_CONFIG_H */
