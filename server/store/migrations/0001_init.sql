-- kura-server schema, migration 1: everything the coordinator's core keeps.
-- Written in the common dialect of server/store/db.h (TEXT and BIGINT only,
-- application-made time-ordered ids, hex for bytes, unix seconds for times),
-- so the same file runs on SQLite and PostgreSQL.

-- People: operators who sign in to the web UI and the API.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,          -- [a-z0-9._-]{1,64}
    password_hash TEXT NOT NULL,            -- Argon2id string (crypto_pwhash_str)
    totp_secret TEXT,                       -- base32 RFC 6238 secret; NULL until enrolled
    role TEXT NOT NULL,                     -- viewer | initiator | approver | administrator | auditor
    approver_name TEXT,                     -- for approvers: their name in the wallet policies
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Signed-in sessions. The cookie holds a random token; only its hash is kept.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,            -- hex SHA-256 of the cookie token
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,               -- sent back in X-CSRF-Token on unsafe methods
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    client_addr TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Sign-in rate limiting, per user name and per client address, in fixed windows.
CREATE TABLE signin_attempts (
    scope TEXT NOT NULL,                    -- 'user' | 'addr'
    subject TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    PRIMARY KEY (scope, subject)
);

-- Systems: API keys. The key is shown once; only its hash is kept.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,            -- the public part of the key, to find the row
    secret_hash TEXT NOT NULL,              -- hex SHA-256 of the whole key
    role TEXT NOT NULL,                     -- the role the key acts with
    scopes TEXT NOT NULL,                   -- space-separated, e.g. "transfers:create deposits:read"
    cidrs TEXT NOT NULL DEFAULT '',         -- space-separated allowlist; '' = any address
    expires_at BIGINT,                      -- NULL = never
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);

-- Wallets, registered from `kura-cold export` and the signed policy.
CREATE TABLE wallets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,              -- as intents and policies name it
    chain TEXT NOT NULL,                    -- bitcoin | testnet | testnet4 | signet | regtest
    descriptor TEXT NOT NULL,               -- watch-only multipath descriptor, canonical
    checksum TEXT NOT NULL,                 -- its BIP380 checksum
    kind TEXT NOT NULL,                     -- wpkh | wsh | tr | ...
    threshold BIGINT NOT NULL,              -- signatures needed (m of n; 1 for single key)
    policy_version BIGINT NOT NULL,         -- the policy in force
    next_receive_index BIGINT NOT NULL DEFAULT 0,
    next_change_index BIGINT NOT NULL DEFAULT 0,
    birth_height BIGINT NOT NULL DEFAULT 0,
    min_confirmations BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

-- Every policy a wallet has had, with its administrators' signatures.
CREATE TABLE policies (
    wallet_id TEXT NOT NULL REFERENCES wallets(id),
    version BIGINT NOT NULL,
    text TEXT NOT NULL,                     -- the exact canonical text
    signatures TEXT NOT NULL,               -- JSON array of armoured SSHSIG strings
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (wallet_id, version)
);

-- Deposit (receive) addresses, allocated in order, and change addresses.
CREATE TABLE addresses (
    wallet_id TEXT NOT NULL REFERENCES wallets(id),
    branch BIGINT NOT NULL,                 -- 0 receive, 1 change
    idx BIGINT NOT NULL,
    address TEXT NOT NULL UNIQUE,
    script TEXT NOT NULL,                   -- hex scriptPubKey
    account TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (wallet_id, branch, idx)
);
CREATE INDEX addresses_account ON addresses(wallet_id, account, idx);

-- The wallet's coins. Filled by the chain follower (and by tests through the store).
CREATE TABLE utxos (
    txid TEXT NOT NULL,                     -- display order hex
    vout BIGINT NOT NULL,
    wallet_id TEXT NOT NULL REFERENCES wallets(id),
    amount BIGINT NOT NULL,
    script TEXT NOT NULL,
    branch BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    prev_tx TEXT NOT NULL,                  -- hex of the whole funding transaction
    height BIGINT,                          -- NULL while unconfirmed
    reserved_by TEXT,                       -- transfer id whose package spends it
    spent_txid TEXT,                        -- set when a spend is seen
    created_at BIGINT NOT NULL,
    PRIMARY KEY (txid, vout)
);
CREATE INDEX utxos_wallet ON utxos(wallet_id, reserved_by, spent_txid);

-- Transfers and their state machine (server/domain/transfer.c).
CREATE TABLE transfers (
    id TEXT PRIMARY KEY,
    wallet_id TEXT NOT NULL REFERENCES wallets(id),
    external_id TEXT UNIQUE,                -- the back office's id, unique
    state TEXT NOT NULL,
    intent_id TEXT NOT NULL UNIQUE,         -- the intent's own id (32 hex)
    intent_text TEXT NOT NULL,              -- the exact bytes approvers sign
    intent_hash TEXT NOT NULL,              -- hex SHA-256 of intent_text
    initiator TEXT NOT NULL,
    created_by TEXT NOT NULL,               -- user or API key id
    total BIGINT NOT NULL,
    max_fee BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    package TEXT,                           -- base64 PSBT as sent to signers
    combined TEXT,                          -- base64 PSBT with every signature received
    raw_tx TEXT,                            -- hex, once finalized
    txid TEXT,
    fee BIGINT,
    change_index BIGINT,
    reason TEXT,                            -- why it was rejected, cancelled or failed
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX transfers_wallet ON transfers(wallet_id, id);
CREATE INDEX transfers_state ON transfers(state, id);

CREATE TABLE transfer_outputs (
    transfer_id TEXT NOT NULL REFERENCES transfers(id),
    n BIGINT NOT NULL,
    address TEXT NOT NULL,
    amount BIGINT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (transfer_id, n)
);

CREATE TABLE approvals (
    transfer_id TEXT NOT NULL REFERENCES transfers(id),
    approver TEXT NOT NULL,                 -- the policy's approver name
    signature TEXT NOT NULL,                -- armoured SSHSIG over intent_text
    user_id TEXT,                           -- who uploaded it
    created_at BIGINT NOT NULL,
    PRIMARY KEY (transfer_id, approver)
);

-- Signed PSBTs as uploaded, one row per upload.
CREATE TABLE signature_uploads (
    id TEXT PRIMARY KEY,
    transfer_id TEXT NOT NULL REFERENCES transfers(id),
    psbt TEXT NOT NULL,                     -- base64
    signatures BIGINT NOT NULL,             -- how many new signatures it brought
    uploaded_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signature_uploads_transfer ON signature_uploads(transfer_id, id);

-- Idempotency-Key: the first response to a creating POST, kept for retries.
CREATE TABLE idempotency_keys (
    principal TEXT NOT NULL,                -- user or API key id
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,             -- hex SHA-256 of method, path and body
    state TEXT NOT NULL,                    -- running | done
    status BIGINT,
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (principal, idem_key)
);

-- The audit log: one hash-chained row per change (server/audit/).
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,                 -- 1, 2, 3, ... without gaps
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,                   -- e.g. transfer.approved, user.created, signin.failed
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    data TEXT NOT NULL,                     -- canonical JSON of what changed
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_object ON audit_log(object_type, object_id, seq);
CREATE INDEX audit_at ON audit_log(at, seq);

-- The chain's head, one row: appending updates it first, which serialises
-- appenders on PostgreSQL (row lock) as BEGIN IMMEDIATE does on SQLite.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Webhooks: endpoints, the outbox of events, and deliveries per endpoint.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,                   -- space-separated patterns: "transfer.*", "deposit.confirmed"
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,                    -- stable event id, time-ordered
    type TEXT NOT NULL,                     -- transfer.approved, deposit.confirmed, ...
    object_id TEXT NOT NULL,
    payload TEXT NOT NULL,                  -- the JSON body sent
    audit_seq BIGINT NOT NULL,              -- the audit row written with it
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_id TEXT NOT NULL REFERENCES webhook_events(id),
    state TEXT NOT NULL,                    -- pending | delivered | failed
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    delivered_at BIGINT,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);

CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    status BIGINT,                          -- HTTP status, NULL when no answer
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_event ON webhook_attempts(event_id, id);

-- Leases for work only one server may do at a time (the chain follower,
-- the webhook worker of an endpoint).
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
