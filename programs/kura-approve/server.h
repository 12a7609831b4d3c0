/*
 * programs/kura-approve/server.h — talking to kura-server: fetch a transfer's
 * intent (the exact bytes), post an approval. The approver's tool still
 * parses, renders and signs locally from those bytes; the server is only a
 * courier, and nothing it says is believed without the local checks.
 */
#ifndef KURA_APPROVE_SERVER_H
#define KURA_APPROVE_SERVER_H

#include <stddef.h>

/* Where and as whom. `url` is the server's base URL ("https://kura.example:8443");
 * `api_key` the caller's API key (sent as "Authorization: Bearer KEY"). */
typedef struct approve_server {
    const char *url;
    const char *api_key;
    const char *ca_file; /* optional: a CA bundle for a private TLS certificate */
} approve_server;

/* Reads the API key for `srv` from `path` (first line, at most 256 bytes)
 * or, when path is NULL, from $KURA_API_KEY. *out is malloc'd (the caller
 * wipes and frees it). Returns 0, or -1 with `why` filled. */
int approve_server_load_key(char **out, const char *path, char *why, size_t why_len);

/* GET {url}/v1/transfers/{id}/intent: the intent text exactly as the server
 * holds it. *text is malloc'd and NUL-terminated, *len without the NUL.
 * `id` must be [A-Za-z0-9_-]{1,64} (it goes into a URL path).
 * Returns 0, or -1 with `why` naming the HTTP status and the server's error
 * code when it gave one. */
int approve_server_fetch_intent(char **text, size_t *len, const approve_server *srv,
                                const char *id, char *why, size_t why_len);

/* POST {url}/v1/transfers/{id}/approvals with {"signature": SIG}. On success
 * *state receives the transfer's state after the approval ("approved",
 * "awaiting_approval", ...; at most state_len - 1 chars). Returns 0, or -1
 * with `why` naming the HTTP status and the server's error code. */
int approve_server_post_approval(const approve_server *srv, const char *id, const char *sig,
                                 size_t sig_len, char *state, size_t state_len, char *why,
                                 size_t why_len);

#endif /* KURA_APPROVE_SERVER_H */
