/*
 * programs/kura-approve/server.c — kura-server's two routes that an approver
 * needs, over libcurl. See server.h.
 */
#include "server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

/* The most an answer may hold: an intent is at most 256 KiB. */
#define ANSWER_MAX (512u * 1024u)
#define KEY_MAX 256u

typedef struct answer {
    char *data;
    size_t len;
    int overflow;
} answer;

static void say(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    if (!why || !why_len)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    answer *a = userdata;
    size_t n = size * nmemb;
    char *grown;
    if (a->len + n > ANSWER_MAX) {
        a->overflow = 1;
        return 0;
    }
    grown = realloc(a->data, a->len + n + 1);
    if (!grown)
        return 0;
    a->data = grown;
    memcpy(a->data + a->len, ptr, n);
    a->len += n;
    a->data[a->len] = '\0';
    return n;
}

int approve_server_load_key(char **out, const char *path, char *why, size_t why_len)
{
    char buf[KEY_MAX + 2];
    size_t n;
    *out = NULL;
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            say(why, why_len, "cannot read the API key file %s: %s", path, strerror(errno));
            return -1;
        }
        if (!fgets(buf, sizeof buf, f)) {
            fclose(f);
            say(why, why_len, "the API key file %s is empty", path);
            return -1;
        }
        fclose(f);
    } else {
        const char *env = getenv("KURA_API_KEY");
        if (!env || !*env) {
            say(why, why_len, "no API key: give --api-key-file FILE or set KURA_API_KEY");
            return -1;
        }
        if (strlen(env) > KEY_MAX) {
            say(why, why_len, "KURA_API_KEY is too long");
            return -1;
        }
        snprintf(buf, sizeof buf, "%s", env);
    }
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    if (n == 0 || n > KEY_MAX) {
        sodium_memzero(buf, sizeof buf);
        say(why, why_len, "the API key is empty or too long");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (buf[i] <= ' ' || buf[i] > '~') {
            sodium_memzero(buf, sizeof buf);
            say(why, why_len, "the API key holds a character an HTTP header cannot");
            return -1;
        }
    *out = strdup(buf);
    sodium_memzero(buf, sizeof buf);
    if (!*out) {
        say(why, why_len, "out of memory");
        return -1;
    }
    return 0;
}

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* One request. body NULL: GET. Returns the HTTP status (0 when none came),
 * the answer in *a. */
static long request(answer *a, const approve_server *srv, const char *path, const char *body,
                    char *why, size_t why_len)
{
    CURL *curl;
    struct curl_slist *headers = NULL;
    char *url = NULL, *auth = NULL;
    size_t url_len, auth_len;
    long status = 0;
    CURLcode rc;

    memset(a, 0, sizeof *a);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(curl = curl_easy_init())) {
        say(why, why_len, "cannot start libcurl");
        return 0;
    }
    url_len = strlen(srv->url) + strlen(path) + 1;
    auth_len = strlen(srv->api_key) + 32;
    url = malloc(url_len);
    auth = malloc(auth_len);
    if (!url || !auth) {
        say(why, why_len, "out of memory");
        goto done;
    }
    {
        /* No doubled slash when the base URL ends in one. */
        size_t base = strlen(srv->url);
        if (base && srv->url[base - 1] == '/')
            base--;
        snprintf(url, url_len, "%.*s%s", (int)base, srv->url, path);
    }
    snprintf(auth, auth_len, "Authorization: Bearer %s", srv->api_key);
    headers = curl_slist_append(headers, auth);
    if (body)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (srv->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, srv->ca_file);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        say(why, why_len, "%s: %s", srv->url,
            a->overflow ? "the answer is too long" : curl_easy_strerror(rc));
        goto done;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
done:
    curl_slist_free_all(headers);
    if (auth) {
        sodium_memzero(auth, strlen(auth));
        free(auth);
    }
    free(url);
    curl_easy_cleanup(curl);
    return status;
}

/* Names a failed answer: "HTTP 409 INVALID_STATE: the transfer is ...". */
static void explain(char *why, size_t why_len, long status, const answer *a)
{
    json_t *j = a->data ? json_loadb(a->data, a->len, 0, NULL) : NULL;
    const char *code = j ? json_string_value(json_object_get(j, "error")) : NULL;
    const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
    say(why, why_len, "the server answered HTTP %ld%s%s%s%s", status, code ? " " : "",
        code ? code : "", msg ? ": " : "", msg ? msg : "");
    json_decref(j);
}

int approve_server_fetch_intent(char **text, size_t *len, const approve_server *srv,
                                const char *id, char *why, size_t why_len)
{
    char path[128];
    answer a;
    long status;
    *text = NULL;
    *len = 0;
    if (!valid_id(id)) {
        say(why, why_len, "a transfer id is 1 to 64 of [A-Za-z0-9_-]");
        return -1;
    }
    snprintf(path, sizeof path, "/v1/transfers/%s/intent", id);
    status = request(&a, srv, path, NULL, why, why_len);
    if (status == 0) {
        free(a.data);
        return -1;
    }
    if (status != 200) {
        explain(why, why_len, status, &a);
        free(a.data);
        return -1;
    }
    if (!a.data) {
        say(why, why_len, "the server sent an empty intent");
        return -1;
    }
    if (strlen(a.data) != a.len) {
        free(a.data);
        say(why, why_len, "the intent the server sent holds a NUL byte");
        return -1;
    }
    *text = a.data;
    *len = a.len;
    return 0;
}

int approve_server_post_approval(const approve_server *srv, const char *id, const char *sig,
                                 size_t sig_len, char *state, size_t state_len, char *why,
                                 size_t why_len)
{
    char path[128];
    answer a;
    long status;
    json_t *body = json_object(), *reply;
    char *text;
    const char *st;
    if (state && state_len)
        state[0] = '\0';
    if (!valid_id(id)) {
        json_decref(body);
        say(why, why_len, "a transfer id is 1 to 64 of [A-Za-z0-9_-]");
        return -1;
    }
    if (!body || json_object_set_new(body, "signature", json_stringn(sig, sig_len)) != 0 ||
        !(text = json_dumps(body, JSON_COMPACT))) {
        json_decref(body);
        say(why, why_len, "out of memory");
        return -1;
    }
    json_decref(body);
    snprintf(path, sizeof path, "/v1/transfers/%s/approvals", id);
    status = request(&a, srv, path, text, why, why_len);
    free(text);
    if (status == 0) {
        free(a.data);
        return -1;
    }
    if (status < 200 || status > 299) {
        explain(why, why_len, status, &a);
        free(a.data);
        return -1;
    }
    reply = a.data ? json_loadb(a.data, a.len, 0, NULL) : NULL;
    st = reply ? json_string_value(json_object_get(reply, "state")) : NULL;
    if (st && state && state_len)
        snprintf(state, state_len, "%s", st);
    json_decref(reply);
    free(a.data);
    return 0;
}
