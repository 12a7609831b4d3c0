-- kura-server schema, migration 5 (batch branch; numbered 0006 in the plan, 0005 here so the
-- migrations have no gap: renumber on merge): withdrawal requests, queued
-- one by one by a back office and paid together as one batch transfer
-- (server/domain/withdrawals.h).
--
-- state: queued -> batched -> sent -> completed; cancelled and failed end it;
-- a batch whose transfer ends before its signing package was issued puts its
-- requests back to queued (reason says why). transfer_id: the batch transfer while batched,
-- sent or completed (NULL while queued or cancelled). batches: how many
-- batch transfers the request has been part of.
CREATE TABLE withdrawals (
    id TEXT PRIMARY KEY,
    wallet_id TEXT NOT NULL REFERENCES wallets(id),
    external_id TEXT NOT NULL UNIQUE,       -- the back office's id, unique
    address TEXT NOT NULL,
    amount BIGINT NOT NULL,                 -- satoshis
    label TEXT NOT NULL,                    -- "" when none; written into the intent
    state TEXT NOT NULL,
    transfer_id TEXT REFERENCES transfers(id),
    batches BIGINT NOT NULL,
    reason TEXT,                            -- why it was requeued, cancelled or failed
    created_by TEXT NOT NULL,               -- user or API key id
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX withdrawals_queue ON withdrawals(wallet_id, state, id);
CREATE INDEX withdrawals_wallet ON withdrawals(wallet_id, id);
CREATE INDEX withdrawals_transfer ON withdrawals(transfer_id);
CREATE INDEX withdrawals_state ON withdrawals(state, wallet_id);
