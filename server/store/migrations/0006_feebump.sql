-- kura-server schema, migration 5 (feebump branch): fee bumps (RBF).
--
-- transfer_attempts: the transactions a transfer was (or is being) signed
-- as, once it has been bumped. The transfer keeps one identity; its row
-- holds the attempt now broadcast (package, combined, raw_tx, txid, fee),
-- and this table every attempt, numbered from 1 (the original). The
-- follower recognises whichever of them confirms.
--   state: broadcast (signed and sent: the original, and each bump once
--          its signatures are in) | awaiting_signatures (a bump being
--          signed) | abandoned (a bump superseded by a later one before it
--          was signed) | confirmed (the one a block holds) | replaced (a
--          signed one that lost to the confirmed one)
CREATE TABLE transfer_attempts (
    transfer_id TEXT NOT NULL REFERENCES transfers(id),
    attempt BIGINT NOT NULL,
    state TEXT NOT NULL,
    package TEXT NOT NULL,                   -- base64 PSBT, as built
    combined TEXT,                           -- base64 PSBT, signatures so far
    raw_tx TEXT,                             -- hex, once finalized
    txid TEXT,                               -- display-order hex, once finalized
    fee BIGINT NOT NULL,
    fee_rate BIGINT,                         -- sat/vB asked for (NULL: the original's)
    change_index BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (transfer_id, attempt)
);
CREATE INDEX transfer_attempts_txid ON transfer_attempts(txid);
