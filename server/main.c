/*
 * server/main.c — kura-server, the coordinator (docs/kura-server.md).
 *
 *   kura-server serve [--config FILE] [--data-dir DIR] [--listen ADDR:PORT] [--db URL]
 *   kura-server user add NAME --role ROLE [--approver-name N] [--password-file F]
 *   kura-server audit verify [--held-seq N --held-hash HEX]
 *   kura-server audit export --format jsonl|csv [--from T] [--to T]
 *   kura-server journal import FILE
 *   kura-server migrate
 *   kura-server wallet rescan --wallet ID --from-height N [--gap-limit G]
 *   kura-server wallet rescan-status --wallet ID
 *   kura-server backup --out FILE
 *   kura-server restore --from FILE
 *   kura-server routes
 *
 * Exit status: 0 done; 1 refused or found broken (audit verify, a refused
 * user add, a journal that does not reconcile); 2 could not run (usage,
 * configuration, database).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "api/api.h"
#include "api/compat.h"
#include "api/config.h"
#include "api/routes.h"
#include "kura/bsms.h"
#include "kura/descriptor.h"
#include "kura/keys.h"
#include "chain/broadcast.h"
#include "domain/withdrawals.h"
#include "domain/hot.h"
#include "chain/rescan.h"
#include "store/backup.h"
#include "log/log.h"

#define EXIT_REFUSED 1
#define EXIT_FAILED 2

static const char usage_main[] =
    "usage: kura-server COMMAND [OPTIONS]\n"
    "\n"
    "kura-server is kura's coordinator: transfers from request to signed PSBT,\n"
    "approvals, people, the audit log and webhooks, over a JSON API.\n"
    "\n"
    "commands:\n"
    "  serve            run the HTTP server (and the expiry sweeper and webhook worker)\n"
    "  user add NAME    create a user (the first administrator, on a new install)\n"
    "  audit verify     check the audit chain end to end and every object against it\n"
    "  audit export     write the audit rows of a time range as JSON lines or CSV\n"
    "  journal import   reconcile a kura-cold journal against the transfers\n"
    "  migrate          bring the database's schema up to date and exit\n"
    "  wallet rescan    a recovery scan of a wallet restored elsewhere (gap limit)\n"
    "  backup           copy the database while the server runs (--out FILE)\n"
    "  restore          put a backup into an empty database (--from FILE)\n"
    "  routes           print the route table as JSON\n"
    "  bsms descriptor-record\n"
    "                   BIP129 round 2: the descriptor record from the signers' key records\n"
    "\n"
    "options every command takes:\n"
    "  --config FILE    key = value settings (docs/kura-server.md)\n"
    "  --data-dir DIR   where the SQLite database lives (default ./kura-data)\n"
    "  --db URL         sqlite:PATH or postgres:CONNINFO (default sqlite:DIR/kura.db)\n"
    "\n"
    "`kura-server COMMAND --help` tells more. Exit status: 0 done, 1 refused or\n"
    "found broken, 2 could not run.\n";

static const char usage_serve[] =
    "usage: kura-server serve [--config FILE] [--data-dir DIR] [--db URL]\n"
    "                         [--listen ADDR:PORT] [--port-file FILE] [--node URL]\n"
    "\n"
    "Serves the API until SIGTERM or SIGINT, then finishes the requests in flight\n"
    "and exits 0. --listen ADDR:0 picks a free port; the port is printed on stderr\n"
    "(\"kura-server: listening on http://ADDR:PORT\") and written to --port-file.\n"
    "TLS is on when the configuration names tls_cert and tls_key.\n"
    "--node (or node_url in the configuration, with node_cookie_file or\n"
    "node_user/node_password) follows that Bitcoin Core node: deposits, the\n"
    "wallets' coins, fee estimates, broadcasts (docs/kura-server.md).\n";

static const char usage_user[] =
    "usage: kura-server user add NAME --role ROLE [--approver-name NAME]\n"
    "                            [--password-file FILE]   (- reads stdin)\n"
    "\n"
    "Creates a user directly in the database (audited as actor \"system\"): the\n"
    "way to make the first administrator. ROLE: viewer, initiator, approver\n"
    "(needs --approver-name: its name in wallet policies), administrator,\n"
    "auditor. Without --password-file the password is asked for on the terminal\n"
    "(twice). Passwords have 12 to 1024 bytes.\n";

static const char usage_audit[] =
    "usage: kura-server audit verify [--held-seq N --held-hash HEX] [--json]\n"
    "       kura-server audit export --format jsonl|csv [--from UNIX] [--to UNIX]\n"
    "\n"
    "verify walks the whole chain, names the first broken row, and holds every\n"
    "object (transfer, wallet, policy, user, API key, webhook) against its last\n"
    "audit row, naming each edited object. --held-seq/--held-hash: a head kept\n"
    "outside the database (an export's trailer, a webhook's Kura-Audit-Head).\n"
    "Exit 0 intact, 1 broken.\n"
    "export writes the rows with FROM <= at < TO to stdout, then a trailer with\n"
    "the chain's head.\n";

static const char usage_journal[] =
    "usage: kura-server journal import FILE\n"
    "\n"
    "Reads a kura-cold journal, verifies its chain and reconciles every signature\n"
    "the signer made against the transfers; prints the report as JSON. Exit 0\n"
    "when everything matches, 1 when a mismatch is named.\n";

static const char usage_migrate[] =
    "usage: kura-server migrate [--config FILE] [--data-dir DIR] [--db URL]\n"
    "\n"
    "Applies the migrations the database lacks and prints the schema version.\n";

static const char usage_bsms[] =
    "usage: kura-server bsms descriptor-record --threshold M --network NET [--taproot]\n"
    "                                          -o OUT KEYRECORD...\n"
    "\n"
    "The coordinator's round 2 of BIP129 (docs/bsms.md): verifies every signer's\n"
    "key record (its signature by its own key), writes the descriptor record of an\n"
    "M-of-N wsh(sortedmulti) wallet (tr(NUMS, sortedmulti_a) with --taproot) over\n"
    "their keys, in their order, to OUT (which must not exist), and prints the\n"
    "wallet's descriptor (\"descriptor: ...\") for its policy. Each kura-cold then\n"
    "checks OUT against every record at its ceremony (ceremony --bsms), and\n"
    "POST /v1/wallets registers the wallet from the same records. NET: bitcoin,\n"
    "testnet or regtest. Exit 0, 1 for a record that does not verify, 2 could\n"
    "not run.\n";

static const char usage_wallet[] =
    "usage: kura-server wallet rescan --wallet ID --from-height N [--gap-limit G]\n"
    "       kura-server wallet rescan-status --wallet ID\n"
    "\n"
    "rescan asks for a recovery scan of a wallet restored elsewhere (audited as\n"
    "actor \"system\"; the same as POST /v1/wallets/{id}/rescan): the chain\n"
    "follower of a running `kura-server serve --node ...` (the one holding the\n"
    "lease) scans every block from height N to its tip against the wallet's\n"
    "receive and change addresses, G (20 to 1000, default 20) unused addresses\n"
    "past the highest used one on each chain, records what it finds as deposits\n"
    "and coins, and allocates the addresses used. A new request replaces the\n"
    "wallet's earlier scan. rescan-status prints the scan's progress. Both print\n"
    "the rescan resource as JSON. Exit 0, 1 refused (no such wallet, bad\n"
    "value), 2 could not run.\n";
static const char usage_backup[] =
    "usage: kura-server backup --out FILE [--config FILE] [--data-dir DIR] [--db URL]\n"
    "\n"
    "Writes a consistent copy of the database to FILE (which must not exist;\n"
    "made 0600) while kura-server runs and writes: SQLite through its online\n"
    "backup API, PostgreSQL through pg_dump --format=custom (found on PATH or\n"
    "under /usr/lib/postgresql/N/bin; KURA_PG_BINDIR overrides). The file\n"
    "records the schema version and the payload's SHA-256; prints its header\n"
    "as JSON (docs/operators-guide.md).\n";

static const char usage_restore[] =
    "usage: kura-server restore --from FILE [--config FILE] [--data-dir DIR] [--db URL]\n"
    "\n"
    "Restores a backup of `kura-server backup` into an EMPTY database: a data\n"
    "directory without kura.db, or a PostgreSQL database without tables\n"
    "(pg_restore --single-transaction). Checks the file's SHA-256 first. Exit 1\n"
    "with a stable reason when refused: BACKUP_BAD_FILE, BACKUP_KIND_MISMATCH,\n"
    "BACKUP_SCHEMA_NEWER (made by a newer kura-server), RESTORE_TARGET_NOT_EMPTY.\n"
    "A backup of an older schema is brought up to date when the server starts\n"
    "(or by `kura-server migrate`). Then run `kura-server audit verify`.\n";

static const char usage_routes[] =
    "usage: kura-server routes\n"
    "\n"
    "Prints the route table (method, path, roles, API-key scope, flags) as JSON:\n"
    "what the router, docs/api.md and the tests read.\n";

/* ---- options ---- */

typedef struct opts {
    kura_server_config cfg;
    const char *config_file;
    const char *data_dir;
    const char *db;
    const char *listen;
    const char *node;
    const char *port_file;
    const char *role;
    const char *approver_name;
    const char *password_file;
    const char *format;
    int64_t from, to, held_seq;
    const char *held_hash;
    const char *wallet;
    int64_t from_height, gap_limit;
    int json;
    int restore;                 /* --from names a file (restore), not a time */
    const char *out_file;
    const char *from_file;
    const char *args[4];
    int nargs;
} opts;

static int die(const char *what, const char *msg)
{
    kura_log(KURA_LOG_ERROR, "%s: %s", what, msg);
    return EXIT_FAILED;
}

static int read_file(const char *path, char **out, size_t *len, size_t max)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    *len = 0;
    if (!f)
        return -1;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > max + 4097) {
                free(buf);
                if (f != stdin)
                    fclose(f);
                errno = EFBIG;
                return -1;
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                if (f != stdin)
                    fclose(f);
                return -1;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r < 4096)
            break;
    }
    if (f != stdin)
        fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int parse_i64_arg(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !*v || *end || x < 0)
        return -1;
    *out = (int64_t)x;
    return 0;
}

/* Parses argv[from..) into o. Returns 0, 1 (--help printed), or EXIT_FAILED. */
static int parse_opts(opts *o, int argc, char **argv, int from, const char *help)
{
    char errbuf[256];
    for (int i = from; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(field)                                                   \
    do {                                                              \
        if (!v)                                                       \
            return die(a, "needs a value");                           \
        o->field = v;                                                 \
        i++;                                                          \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return 1;
        } else if (!strcmp(a, "--config")) {
            TAKE(config_file);
        } else if (!strcmp(a, "--data-dir")) {
            TAKE(data_dir);
        } else if (!strcmp(a, "--db")) {
            TAKE(db);
        } else if (!strcmp(a, "--listen")) {
            TAKE(listen);
        } else if (!strcmp(a, "--node")) {
            TAKE(node);
        } else if (!strcmp(a, "--port-file")) {
            TAKE(port_file);
        } else if (!strcmp(a, "--role")) {
            TAKE(role);
        } else if (!strcmp(a, "--approver-name")) {
            TAKE(approver_name);
        } else if (!strcmp(a, "--password-file")) {
            TAKE(password_file);
        } else if (!strcmp(a, "--format")) {
            TAKE(format);
        } else if (!strcmp(a, "--held-hash")) {
            TAKE(held_hash);
        } else if (!strcmp(a, "--wallet")) {
            TAKE(wallet);
        } else if (!strcmp(a, "--from-height") || !strcmp(a, "--gap-limit")) {
            if (!v || parse_i64_arg(v, !strcmp(a, "--from-height") ? &o->from_height : &o->gap_limit))
                return die(a, "needs a number");
            i++;
        } else if (!strcmp(a, "--out")) {
            TAKE(out_file);
        } else if (o->restore && !strcmp(a, "--from")) {
            TAKE(from_file);
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--from") || !strcmp(a, "--to") || !strcmp(a, "--held-seq")) {
            int64_t *dst = !strcmp(a, "--from") ? &o->from : !strcmp(a, "--to") ? &o->to : &o->held_seq;
            if (!v || parse_i64_arg(v, dst))
                return die(a, "needs unix seconds / a number");
            i++;
        } else if (a[0] == '-' && a[1]) {
            kura_log(KURA_LOG_ERROR, "unknown option %s", a);
            fputs(help, stderr);
            return EXIT_FAILED;
        } else if (o->nargs < 4) {
            o->args[o->nargs++] = a;
        } else {
            return die(a, "too many arguments");
        }
#undef TAKE
    }
    /* The file first, then the flags over it. */
    if (o->config_file) {
        char *text;
        size_t len;
        if (read_file(o->config_file, &text, &len, 1 << 20))
            return die(o->config_file, strerror(errno));
        if (kura_config_parse(&o->cfg, text, len, errbuf, sizeof errbuf)) {
            free(text);
            return die(o->config_file, errbuf);
        }
        free(text);
    }
    if (o->data_dir && kura_config_set(&o->cfg, "data_dir", o->data_dir, errbuf, sizeof errbuf))
        return die("--data-dir", errbuf);
    if (o->db && kura_config_set(&o->cfg, "database", o->db, errbuf, sizeof errbuf))
        return die("--db", errbuf);
    if (o->listen && kura_config_set(&o->cfg, "listen", o->listen, errbuf, sizeof errbuf))
        return die("--listen", errbuf);
    if (o->node && kura_config_set(&o->cfg, "node_url", o->node, errbuf, sizeof errbuf))
        return die("--node", errbuf);
    kura_log_set_format(o->cfg.log_format ? KURA_LOG_JSON : KURA_LOG_TEXT);
    return 0;
}

/* The database's URL: database, or sqlite:DATA_DIR/kura.db (the directory
 * made 0700 when missing). */
static int db_url(opts *o, char url[1100])
{
    if (o->cfg.database[0]) {
        snprintf(url, 1100, "%s", o->cfg.database);
    } else {
        if (mkdir(o->cfg.data_dir, 0700) != 0 && errno != EEXIST)
            return die(o->cfg.data_dir, strerror(errno));
        snprintf(url, 1100, "sqlite:%s/kura.db", o->cfg.data_dir);
    }
    return 0;
}

static int open_store(opts *o, kura_store **st)
{
    char url[1100];
    kura_db_error err = {0};
    if (db_url(o, url))
        return EXIT_FAILED;
    if (kura_store_open(st, url, o->cfg.db_pool, &err) != KURA_DB_OK)
        return die("database", err.message);
#ifdef KURA_TEST_HOOKS
    /* Tests create many users: the cheapest Argon2id libsodium allows. */
    if (getenv("KURA_TEST_CHEAP_KDF"))
        kura_people_set_password_cost(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
#endif
    kura_people_init();
    kura_domain_register_snapshots();
    kura_webhook_register_snapshots();
    kura_transfer_set_fee_rate((uint64_t)o->cfg.default_fee_rate * 1000u);
#ifdef KURA_TEST_HOOKS
    /* The end-to-end tests' compromised coordinator: see transfers.h. */
    if (getenv("KURA_TEST_COMPROMISED_COORDINATOR")) {
        kura_transfer_test_skip_self_check(1);
        kura_log(KURA_LOG_WARN, "TEST BUILD: packages are NOT held against the signer's check "
                                "(KURA_TEST_COMPROMISED_COORDINATOR)");
    }
#endif
    return 0;
}

/* ---- serve ---- */

/* The web pages' directory: web_root when set ("off": none), else the
 * source tree's built web/dist (scripts/run builds it) when it holds an
 * index.html. */
static const char *web_root(const kura_server_config *cfg)
{
    struct stat sb;
    if (!strcmp(cfg->web_root, "off"))
        return NULL;
    if (cfg->web_root[0])
        return cfg->web_root;
#ifdef KURA_WEB_ROOT_DEFAULT
    if (stat(KURA_WEB_ROOT_DEFAULT "/index.html", &sb) == 0 && S_ISREG(sb.st_mode))
        return KURA_WEB_ROOT_DEFAULT;
#endif
    (void)sb;
    return NULL;
}

/* The hot wallets' spool worker (domain/hot.h), when hot_spool lines are
 * configured; the lease inside decides which server runs it. */
static int start_hot(opts *o, kura_store *st, kura_hot_worker **out)
{
    kura_hot_spool spools[KURA_CONFIG_HOT_SPOOLS_MAX];
    kura_hot_options ho;
    char holder[64], host[40] = "", errbuf[200];
    *out = NULL;
    if (o->cfg.hot_spool_count == 0)
        return 0;
    for (size_t i = 0; i < o->cfg.hot_spool_count; i++) {
        spools[i].wallet = o->cfg.hot_spool_wallet[i];
        spools[i].dir = o->cfg.hot_spool_dir[i];
        kura_log(KURA_LOG_INFO, "hot wallet %s: spool %s", spools[i].wallet, spools[i].dir);
    }
    gethostname(host, sizeof host - 1);
    snprintf(holder, sizeof holder, "%s:%ld", host, (long)getpid());
    memset(&ho, 0, sizeof ho);
    ho.spools = spools;
    ho.count = o->cfg.hot_spool_count;
    ho.poll_interval_ms = o->cfg.hot_poll_interval_ms;
    ho.holder = holder;
    if (kura_hot_worker_start(out, st, &ho, errbuf, sizeof errbuf) != 0)
        return die("hot", errbuf);
    return 0;
}

static int cmd_serve(opts *o)
{
    kura_store *st = NULL;
    kura_api_server *srv = NULL;
    kura_webhook_worker *worker = NULL;
    kura_chain_worker *chain = NULL;
    kura_batcher *batcher = NULL;
    kura_hot_worker *hot = NULL;
    kura_api_config ac;
    kura_webhook_worker_options wo;
    kura_db_error err = {0};
    char errbuf[256], *cert = NULL, *key = NULL;
    char holder[64], host[40] = "";
    size_t n;
    sigset_t sigs;
    int rc;

    /* SIGTERM/SIGINT are taken by this thread alone (sigtimedwait below):
     * blocked before any other thread starts, so every thread inherits it. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((o->cfg.tls_cert[0] == '\0') != (o->cfg.tls_key[0] == '\0'))
        return die("tls", "tls_cert and tls_key go together");
    if (o->cfg.tls_cert[0]) {
        if (read_file(o->cfg.tls_cert, &cert, &n, 1 << 20))
            return die(o->cfg.tls_cert, strerror(errno));
        if (read_file(o->cfg.tls_key, &key, &n, 1 << 20)) {
            free(cert);
            return die(o->cfg.tls_key, strerror(errno));
        }
    }
    if ((rc = open_store(o, &st)) != 0) {
        free(cert);
        free(key);
        return rc;
    }
    /* This process's name in the elections (store/leader.h): leases.holder. */
    gethostname(host, sizeof host - 1);
    snprintf(holder, sizeof holder, "%s:%ld", host, (long)getpid());
    memset(&wo, 0, sizeof wo);
    wo.holder = holder;
    wo.poll_interval_ms = o->cfg.webhook_interval_ms;
    wo.batch = o->cfg.webhook_batch;
    wo.timeout_ms = o->cfg.webhook_timeout_ms;
    if (kura_webhook_worker_start(&worker, st, &wo, &err) != KURA_DB_OK) {
        kura_log(KURA_LOG_ERROR, "webhook worker: %s", err.message);
        kura_store_close(st);
        free(cert);
        free(key);
        return EXIT_FAILED;
    }
    memset(&ac, 0, sizeof ac);
    ac.listen_addr = o->cfg.listen_addr;
    ac.port = o->cfg.port;
    ac.tls_cert_pem = cert;
    ac.tls_key_pem = key;
    ac.body_limit = o->cfg.body_limit;
    ac.threads = o->cfg.threads;
    ac.log_requests = o->cfg.log_requests;
    ac.web_root = web_root(&o->cfg);
    ac.trusted_proxies = o->cfg.trusted_proxies;
    rc = kura_api_start(&srv, st, &ac, errbuf, sizeof errbuf);
    free(cert);
    if (key) {
        sodium_memzero(key, strlen(key));
        free(key);
    }
    if (rc) {
        kura_webhook_worker_stop(worker);
        kura_store_close(st);
        return die("serve", errbuf);
    }
    kura_api_set_webhook_worker(srv, worker);
    if ((rc = start_hot(o, st, &hot)) != 0) {
        kura_api_stop(srv);
        kura_webhook_worker_stop(worker);
        kura_store_close(st);
        return rc;
    }
    if (ac.web_root)
        kura_log(KURA_LOG_INFO, "web pages from %s", ac.web_root);
    if (o->cfg.node_url[0]) {
        kura_chain_worker_options co;
        kura_rpc_error cerr = {0};
        memset(&co, 0, sizeof co);
        co.rpc.url = o->cfg.node_url;
        co.rpc.cookie_file = o->cfg.node_cookie_file[0] ? o->cfg.node_cookie_file : NULL;
        co.rpc.user = o->cfg.node_user[0] ? o->cfg.node_user : NULL;
        co.rpc.password = o->cfg.node_password;
        co.rpc.timeout_ms = (long)o->cfg.node_timeout_ms;
        co.rpc.retries = 3;
        co.rpc.backoff_ms = 500;
        co.fee.target = (unsigned)o->cfg.fee_target;
        co.fee.floor = (uint64_t)o->cfg.fee_floor * 1000u;
        co.fee.ceiling = (uint64_t)o->cfg.fee_ceiling * 1000u;
        co.poll_interval_ms = o->cfg.node_poll_interval_ms;
        co.zmq_hashblock = o->cfg.zmq_hashblock;
        co.zmq_rawtx = o->cfg.zmq_rawtx;
        co.rebroadcast_seconds = o->cfg.rebroadcast_interval;
        co.holder = holder;
        if (kura_chain_worker_start(&chain, st, &co, &cerr) != KURA_RPC_OK) {
            kura_api_stop(srv);
            kura_hot_worker_stop(hot);
            kura_webhook_worker_stop(worker);
            kura_store_close(st);
            return die("node", cerr.message);
        }
        kura_log(KURA_LOG_INFO, "following the node at %s", o->cfg.node_url);
    }
    if (o->cfg.batch_interval > 0) {
        kura_batcher_options bo;
        memset(&bo, 0, sizeof bo);
        bo.interval = o->cfg.batch_interval;
        bo.min_requests = o->cfg.batch_min_requests;
        bo.max_outputs = (size_t)o->cfg.batch_max_outputs;
        bo.holder = holder;
        if (kura_batcher_start(&batcher, st, &bo) != 0) {
            kura_api_stop(srv);
            kura_hot_worker_stop(hot);
            kura_chain_worker_stop(chain);
            kura_webhook_worker_stop(worker);
            kura_store_close(st);
            return die("batcher", "cannot start the withdrawal batcher");
        }
        kura_log(KURA_LOG_INFO, "batching queued withdrawals every %lld s",
                 (long long)o->cfg.batch_interval);
    }
    kura_log(KURA_LOG_INFO, "listening on %s://%s%s%s:%u", o->cfg.tls_cert[0] ? "https" : "http",
            strchr(o->cfg.listen_addr, ':') ? "[" : "", o->cfg.listen_addr,
            strchr(o->cfg.listen_addr, ':') ? "]" : "", (unsigned)kura_api_port(srv));
    if (o->port_file) {
        FILE *f = fopen(o->port_file, "w");
        if (f) {
            fprintf(f, "%u\n", (unsigned)kura_api_port(srv));
            fclose(f);
        }
    }
    /* The main thread is the expiry sweeper: it wakes every expiry_interval
     * seconds (or at a signal, and then stops). */
    for (;;) {
        struct timespec ts = {(time_t)o->cfg.expiry_interval, 0};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            kura_log(KURA_LOG_INFO, "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (sig < 0 && errno == EAGAIN) {
            size_t expired = 0;
            kura_problem p = {0};
            if (kura_transfer_expire_due(st, (int64_t)time(NULL), &expired, &p) != 0)
                kura_log(KURA_LOG_ERROR, "expiry: %s", p.message);
            else if (expired)
                kura_log(KURA_LOG_INFO, "expiry: %zu transfer(s) expired", expired);
        }
    }
    kura_api_stop(srv);              /* requests in flight finish first */
    kura_batcher_stop(batcher);
    kura_hot_worker_stop(hot);
    kura_chain_worker_stop(chain);
    kura_webhook_worker_stop(worker);
    kura_store_close(st);
    kura_log(KURA_LOG_INFO, "stopped");
    return 0;
}

/* ---- user add ---- */

static int read_password_tty(char *out, size_t cap, const char *prompt)
{
    struct termios old, quiet;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    FILE *tty;
    int ok;
    if (fd < 0)
        return -1;
    tty = fdopen(fd, "r+");
    if (!tty) {
        close(fd);
        return -1;
    }
    fputs(prompt, tty);
    fflush(tty);
    tcgetattr(fd, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(fd, TCSAFLUSH, &quiet);
    ok = fgets(out, (int)cap, tty) != NULL;
    tcsetattr(fd, TCSAFLUSH, &old);
    fputs("\n", tty);
    fclose(tty);
    if (!ok)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int cmd_user(opts *o)
{
    kura_store *st = NULL;
    kura_role role = KURA_ROLE_NONE;
    kura_problem p = {0};
    json_t *user = NULL;
    char pw[1100], again[1100];
    int rc;
    if (o->nargs != 2 || strcmp(o->args[0], "add") != 0 || !o->role) {
        fputs(usage_user, stderr);
        return EXIT_FAILED;
    }
    if (kura_role_parse(o->role, &role))
        return die("--role", "viewer, initiator, approver, administrator or auditor");
    if (o->password_file) {
        char *text;
        size_t len;
        if (read_file(o->password_file, &text, &len, 4096))
            return die(o->password_file, strerror(errno));
        text[strcspn(text, "\r\n")] = '\0';
        snprintf(pw, sizeof pw, "%s", text);
        sodium_memzero(text, len);
        free(text);
    } else {
        if (read_password_tty(pw, sizeof pw, "password: ") ||
            read_password_tty(again, sizeof again, "again: "))
            return die("password", "no terminal to ask on: use --password-file");
        rc = strcmp(pw, again) != 0;
        sodium_memzero(again, sizeof again);
        if (rc) {
            sodium_memzero(pw, sizeof pw);
            return die("password", "the two entries differ");
        }
    }
    if ((rc = open_store(o, &st)) != 0) {
        sodium_memzero(pw, sizeof pw);
        return rc;
    }
    rc = kura_user_create(st, NULL, o->args[1], pw, role, o->approver_name, NULL,
                          (int64_t)time(NULL), &user, &p);
    sodium_memzero(pw, sizeof pw);
    kura_store_close(st);
    if (rc) {
        kura_log(KURA_LOG_ERROR, "user add: %s: %s", kura_problem_name(p.code), p.message);
        return kura_problem_http_status(p.code) >= 500 ? EXIT_FAILED : EXIT_REFUSED;
    }
    json_dumpf(user, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(user);
    return 0;
}

/* ---- audit, journal, migrate, routes ---- */

static int write_stdout(void *ctx, const char *bytes, size_t len)
{
    (void)ctx;
    return fwrite(bytes, 1, len, stdout) == len ? 0 : -1;
}

static void print_verify_summary(const json_t *r)
{
    const json_t *ce = json_object_get(r, "chain_error");
    const json_t *mm = json_object_get(r, "snapshot_mismatches");
    size_t i;
    const json_t *m;
    kura_log(KURA_LOG_INFO, "audit verify: %lld rows, head %lld:%s",
            (long long)json_integer_value(json_object_get(r, "rows")),
            (long long)json_integer_value(json_object_get(json_object_get(r, "head"), "seq")),
            json_string_value(json_object_get(json_object_get(r, "head"), "hash")));
    if (json_is_object(ce))
        kura_log(KURA_LOG_ERROR, "audit verify: first broken row %lld: %s (%s)",
                (long long)json_integer_value(json_object_get(ce, "seq")),
                json_string_value(json_object_get(ce, "reason")),
                json_string_value(json_object_get(ce, "message")));
    json_array_foreach(mm, i, m) {
        const json_t *fields = json_object_get(m, "fields");
        char *f = fields ? json_dumps(fields, JSON_COMPACT) : NULL;
        kura_log(KURA_LOG_ERROR, "audit verify: edited %s %s (audit row %lld): %s %s",
                json_string_value(json_object_get(m, "object_type")),
                json_string_value(json_object_get(m, "object_id")),
                (long long)json_integer_value(json_object_get(m, "audit_seq")),
                json_string_value(json_object_get(m, "reason")), f ? f : "");
        free(f);
    }
    kura_log(KURA_LOG_INFO, "audit verify: %s",
            json_is_true(json_object_get(r, "ok")) ? "intact" : "BROKEN");
}

static int cmd_audit(opts *o)
{
    kura_store *st = NULL;
    kura_problem p = {0};
    int rc;
    if (o->nargs != 1 || (strcmp(o->args[0], "verify") && strcmp(o->args[0], "export"))) {
        fputs(usage_audit, stderr);
        return EXIT_FAILED;
    }
    if (!strcmp(o->args[0], "export")) {
        kura_audit_export_format f;
        if (!o->format || (strcmp(o->format, "jsonl") && strcmp(o->format, "csv")))
            return die("audit export", "--format jsonl or csv");
        f = !strcmp(o->format, "csv") ? KURA_AUDIT_EXPORT_CSV : KURA_AUDIT_EXPORT_JSONL;
        if ((rc = open_store(o, &st)) != 0)
            return rc;
        rc = kura_audit_export(st, f, o->from, o->to, write_stdout, NULL, &p);
        kura_store_close(st);
        if (rc)
            return die("audit export", p.message);
        return fflush(stdout) == 0 ? 0 : die("audit export", "cannot write stdout");
    }
    json_t *report = NULL;
    if ((rc = open_store(o, &st)) != 0)
        return rc;
    rc = kura_audit_verify(st, o->held_seq, o->held_hash, &report, &p);
    kura_store_close(st);
    if (rc)
        return die("audit verify", p.message);
    if (o->json) {
        json_dumpf(report, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    }
    print_verify_summary(report);
    rc = json_is_true(json_object_get(report, "ok")) ? 0 : EXIT_REFUSED;
    json_decref(report);
    return rc;
}

static int cmd_journal(opts *o)
{
    kura_store *st = NULL;
    kura_problem p = {0};
    json_t *report = NULL;
    char *data;
    size_t len;
    int rc;
    if (o->nargs != 2 || strcmp(o->args[0], "import") != 0) {
        fputs(usage_journal, stderr);
        return EXIT_FAILED;
    }
    if (read_file(o->args[1], &data, &len, (size_t)256 << 20))
        return die(o->args[1], strerror(errno));
    if ((rc = open_store(o, &st)) != 0) {
        free(data);
        return rc;
    }
    rc = kura_audit_journal_import(st, "system", (const uint8_t *)data, len, o->args[1],
                                   (int64_t)time(NULL), &report, &p);
    kura_store_close(st);
    free(data);
    if (rc)
        return die("journal import", p.message);
    json_dumpf(report, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    rc = json_is_true(json_object_get(report, "ok")) ? 0 : EXIT_REFUSED;
    json_decref(report);
    return rc;
}

/* ---- wallet rescan ---- */

static int cmd_wallet(opts *o)
{
    kura_store *st = NULL;
    kura_problem p = {0};
    json_t *out = NULL;
    int status = o->nargs == 1 && !strcmp(o->args[0], "rescan-status");
    int rc;
    if (o->nargs != 1 || (!status && strcmp(o->args[0], "rescan") != 0)) {
        fputs(usage_wallet, stderr);
        return EXIT_FAILED;
    }
    if (!o->wallet)
        return die("wallet", "--wallet ID is needed");
    if (!status && o->from_height < 0)
        return die("wallet rescan", "--from-height N is needed");
    if ((rc = open_store(o, &st)))
        return rc;
    if (status)
        rc = kura_rescan_get(st, o->wallet, &out, &p);
    else
        rc = kura_rescan_request(st, "system", o->wallet, o->from_height,
                                 o->gap_limit ? o->gap_limit : KURA_RESCAN_GAP_DEFAULT,
                                 (int64_t)time(NULL), &out, &p);
    kura_store_close(st);
    if (rc) {
        kura_log(KURA_LOG_ERROR, "wallet %s: %s: %s", o->args[0],
                kura_problem_name(p.code), p.message);
        return p.code == KURA_PROBLEM_NOT_FOUND || p.code == KURA_PROBLEM_INVALID_FIELD
                   ? EXIT_REFUSED
                   : EXIT_FAILED;
    }
    char *text = json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(out);
    if (!text)
        return die("wallet", "out of memory");
    printf("%s\n", text);
    free(text);
    return 0;
}

static int cmd_migrate(opts *o)
{
    kura_store *st = NULL;
    int64_t v = 0;
    kura_db_error err = {0};
    int rc = open_store(o, &st);
    if (rc)
        return rc;
    rc = kura_store_schema_version(st, &v, &err);
    kura_store_close(st);
    if (rc)
        return die("migrate", err.message);
    printf("schema version %lld\n", (long long)v);
    return 0;
}

/* ---- backup, restore ---- */

static void print_backup_info(const kura_backup_info *bi, const char *file, const char *what)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "result", what, "file", file,
                          "kind", bi->kind, "schema", (json_int_t)bi->schema, "created",
                          (json_int_t)bi->created, "bytes", (json_int_t)bi->bytes, "sha256",
                          bi->sha256);
    if (j) {
        json_dumpf(j, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(j);
    }
}

/* The reason a refusal names first ("RESTORE_TARGET_NOT_EMPTY: ..."): exit 1;
 * anything else could not run: exit 2. */
static int backup_failed(const char *what, const kura_db_error *err)
{
    kura_log(KURA_LOG_ERROR, "%s: %s", what, err->message);
    return err->code == KURA_DB_ECONFLICT || err->code == KURA_DB_ESCHEMA ||
                   !strncmp(err->message, "BACKUP_", 7)
               ? EXIT_REFUSED
               : EXIT_FAILED;
}

static int cmd_backup(opts *o)
{
    char url[1100];
    kura_backup_info bi;
    kura_db_error err = {0};
    if (o->nargs || !o->out_file) {
        fputs(usage_backup, stderr);
        return EXIT_FAILED;
    }
    if (db_url(o, url))
        return EXIT_FAILED;
    if (kura_backup_write(url, o->out_file, &bi, &err) != KURA_DB_OK)
        return backup_failed("backup", &err);
    kura_log(KURA_LOG_INFO, "backup: %s: %s schema %lld, %llu bytes", o->out_file, bi.kind,
             (long long)bi.schema, (unsigned long long)bi.bytes);
    print_backup_info(&bi, o->out_file, "backup written");
    return 0;
}

static int cmd_restore(opts *o)
{
    char url[1100];
    kura_backup_info bi;
    kura_db_error err = {0};
    if (o->nargs || !o->from_file) {
        fputs(usage_restore, stderr);
        return EXIT_FAILED;
    }
    if (db_url(o, url))
        return EXIT_FAILED;
    if (kura_backup_restore(url, o->from_file, &bi, &err) != KURA_DB_OK)
        return backup_failed("restore", &err);
    kura_log(KURA_LOG_INFO, "restore: %s: %s schema %lld restored", o->from_file, bi.kind,
             (long long)bi.schema);
    print_backup_info(&bi, o->from_file, "restored");
    return 0;
}

static int cmd_routes(void)
{
    json_t *t = kura_route_table_json();
    if (!t)
        return die("routes", "out of memory");
    json_dumpf(t, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(t);
    return 0;
}

/* ---- bsms ---- */

static int cmd_bsms(int argc, char **argv)
{
    const char *out_path = NULL, *files[KURA_BSMS_SIGNERS_MAX];
    size_t nfiles = 0;
    long m = 0;
    int taproot = 0, rc = EXIT_FAILED, fd;
    kura_network network = KURA_NETWORK_MAINNET;
    int have_network = 0;
    kura_bsms_key_record recs[KURA_BSMS_SIGNERS_MAX];
    kura_ctx *ctx = NULL;
    kura_descriptor *desc = NULL;
    kura_error kerr = {0};
    char *record = NULL, *text = NULL;
    size_t record_len = 0;

    if (argc < 3 || strcmp(argv[2], "descriptor-record") != 0) {
        fputs(usage_bsms, argc >= 3 && !strcmp(argv[2], "--help") ? stdout : stderr);
        return argc >= 3 && !strcmp(argv[2], "--help") ? 0 : EXIT_FAILED;
    }
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_bsms, stdout);
            return 0;
        } else if (!strcmp(a, "--threshold") && v) {
            char *end;
            m = strtol(v, &end, 10);
            if (*end || m < 1 || m > KURA_BSMS_SIGNERS_MAX)
                return die("--threshold", "a number 1..20");
            i++;
        } else if (!strcmp(a, "--network") && v) {
            have_network = 1;
            if (!strcmp(v, "bitcoin"))
                network = KURA_NETWORK_MAINNET;
            else if (!strcmp(v, "testnet"))
                network = KURA_NETWORK_TESTNET;
            else if (!strcmp(v, "regtest"))
                network = KURA_NETWORK_REGTEST;
            else
                return die("--network", "bitcoin, testnet or regtest");
            i++;
        } else if (!strcmp(a, "-o") && v) {
            out_path = v;
            i++;
        } else if (!strcmp(a, "--taproot")) {
            taproot = 1;
        } else if (a[0] == '-') {
            kura_log(KURA_LOG_ERROR, "bsms: unknown option %s", a);
            fputs(usage_bsms, stderr);
            return EXIT_FAILED;
        } else if (nfiles < KURA_BSMS_SIGNERS_MAX) {
            files[nfiles++] = a;
        } else {
            return die("bsms", "at most 20 key records");
        }
    }
    if (!m || !have_network || !out_path || nfiles == 0) {
        fputs(usage_bsms, stderr);
        return EXIT_FAILED;
    }
    for (size_t i = 0; i < nfiles; i++) {
        size_t len;
        if (read_file(files[i], &text, &len, KURA_BSMS_RECORD_MAX + 1))
            return die(files[i], strerror(errno));
        rc = kura_bsms_key_record_parse(&recs[i], text, len, &kerr);
        free(text);
        text = NULL;
        if (rc != KURA_OK) {
            kura_log(KURA_LOG_ERROR, "bsms: %s: %s", files[i], kerr.message);
            return EXIT_REFUSED;
        }
    }
    ctx = kura_ctx_new();
    if (!ctx)
        return die("bsms", "out of memory");
    rc = EXIT_REFUSED;
    if (kura_bsms_descriptor_record_write(ctx, &record, &record_len, recs, nfiles, (unsigned)m,
                                          taproot ? KURA_BSMS_TR_SORTEDMULTI_A
                                                  : KURA_BSMS_WSH_SORTEDMULTI,
                                          network, &kerr) != KURA_OK ||
        /* Read back as every signer will: the record holds what was meant. */
        kura_bsms_descriptor_record_verify(ctx, &desc, NULL, NULL, record, record_len, recs,
                                           nfiles, network, &kerr) != KURA_OK ||
        kura_descriptor_to_string(ctx, &text, desc, KURA_DESCRIPTOR_ALL_BRANCHES,
                                  KURA_DESCRIPTOR_PUBLIC, &kerr) != KURA_OK) {
        kura_log(KURA_LOG_ERROR, "bsms: %s", kerr.message);
        goto done;
    }
    rc = EXIT_FAILED;
    fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        rc = die(out_path, strerror(errno));
        goto done;
    }
    if (write(fd, record, record_len) != (ssize_t)record_len || fsync(fd) != 0) {
        close(fd);
        unlink(out_path);
        rc = die(out_path, strerror(errno));
        goto done;
    }
    close(fd);
    printf("descriptor: %s\n", text);
    rc = 0;
done:
    kura_descriptor_string_free(text);
    kura_descriptor_free(desc);
    free(record);
    kura_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    opts o;
    const char *cmd;
    const char *help;
    int rc;
    if (sodium_init() < 0)
        return die("libsodium", "failed to start");
    memset(&o, 0, sizeof o);
    kura_config_defaults(&o.cfg);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_FAILED : 0;
    }
    cmd = argv[1];
    if (!strcmp(cmd, "bsms"))
        return cmd_bsms(argc, argv);
    if (!strcmp(cmd, "serve"))
        help = usage_serve;
    else if (!strcmp(cmd, "user"))
        help = usage_user;
    else if (!strcmp(cmd, "audit"))
        help = usage_audit;
    else if (!strcmp(cmd, "journal"))
        help = usage_journal;
    else if (!strcmp(cmd, "migrate"))
        help = usage_migrate;
    else if (!strcmp(cmd, "routes"))
        help = usage_routes;
    else if (!strcmp(cmd, "wallet"))
        help = usage_wallet;
    else if (!strcmp(cmd, "backup"))
        help = usage_backup;
    else if (!strcmp(cmd, "restore")) {
        help = usage_restore;
        o.restore = 1;
    }
    else {
        kura_log(KURA_LOG_ERROR, "unknown command '%s'", cmd);
        fputs(usage_main, stderr);
        return EXIT_FAILED;
    }
    o.from_height = -1;
    rc = parse_opts(&o, argc, argv, 2, help);
    if (rc == 1)
        return 0;
    if (rc)
        return rc;
    if (!strcmp(cmd, "serve"))
        return o.nargs ? die("serve", "takes no arguments") : cmd_serve(&o);
    if (!strcmp(cmd, "user"))
        return cmd_user(&o);
    if (!strcmp(cmd, "audit"))
        return cmd_audit(&o);
    if (!strcmp(cmd, "journal"))
        return cmd_journal(&o);
    if (!strcmp(cmd, "migrate"))
        return cmd_migrate(&o);
    if (!strcmp(cmd, "wallet"))
        return cmd_wallet(&o);
    if (!strcmp(cmd, "backup"))
        return cmd_backup(&o);
    if (!strcmp(cmd, "restore"))
        return cmd_restore(&o);
    return cmd_routes();
}
