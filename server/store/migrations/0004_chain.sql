-- kura-server schema, migration 4 (chain branch): what the chain follower
-- (server/chain/) records.
--
-- chain_blocks: every block the follower connected, never deleted. The best
-- chain as followed is the rows with connected = 1 (one per height, linked
-- by prev_hash); a reorganisation sets connected = 0 and disconnected_at on
-- the blocks it removed, so the history of what was once believed stays.
-- The follower resumes after a restart from the highest connected row.
CREATE TABLE chain_blocks (
    hash TEXT NOT NULL PRIMARY KEY,          -- display-order hex
    height BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    time BIGINT NOT NULL,                    -- the header's time
    connected BIGINT NOT NULL DEFAULT 1,
    connected_at BIGINT NOT NULL,
    disconnected_at BIGINT
);
CREATE INDEX chain_blocks_best ON chain_blocks(connected, height);

-- deposits: every output paying one of the wallets' addresses that the
-- follower saw, in a block or in the mempool. own = 1 when the transaction
-- also spends the wallet's coins (change, consolidation, self-transfer):
-- recorded, never announced, not listed as a deposit.
--   state: pending (seen, below the wallet's confirmation threshold; in the
--          mempool when height is NULL) | confirmed | reorged (its block
--          left the best chain and it is in no block and not in the
--          mempool) | replaced (a conflicting transaction: a BIP125
--          replacement or a double spend in a block)
CREATE TABLE deposits (
    id TEXT NOT NULL PRIMARY KEY,
    wallet_id TEXT NOT NULL REFERENCES wallets(id),
    txid TEXT NOT NULL,
    vout BIGINT NOT NULL,
    address TEXT NOT NULL,
    branch BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    account TEXT NOT NULL DEFAULT '',
    amount BIGINT NOT NULL,
    state TEXT NOT NULL,
    own BIGINT NOT NULL DEFAULT 0,
    coinbase BIGINT NOT NULL DEFAULT 0,
    replaceable BIGINT NOT NULL DEFAULT 0,   -- seen unconfirmed signalling BIP125
    block_hash TEXT,                         -- NULL while unconfirmed
    height BIGINT,
    replaced_by TEXT,                        -- the conflicting transaction
    replaced_block TEXT,                     -- the block that confirmed the conflict (NULL: mempool)
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (txid, vout)
);
CREATE INDEX deposits_wallet ON deposits(wallet_id, own, id);
CREATE INDEX deposits_account ON deposits(wallet_id, account, own, id);
CREATE INDEX deposits_state ON deposits(state, own, id);
CREATE INDEX deposits_block ON deposits(block_hash);
CREATE INDEX deposits_replaced_block ON deposits(replaced_block);

-- The inputs of every transaction that paid a wallet (deposits.txid): how a
-- double spend or a replacement of an unconfirmed deposit is recognised,
-- and its descendants found.
CREATE TABLE chain_tx_inputs (
    txid TEXT NOT NULL,
    n BIGINT NOT NULL,
    prev_txid TEXT NOT NULL,
    prev_vout BIGINT NOT NULL,
    PRIMARY KEY (txid, n)
);
CREATE INDEX chain_tx_inputs_prev ON chain_tx_inputs(prev_txid, prev_vout);

-- The wallet's coins as the follower found them: the block that created a
-- coin and the block that spent it, so a reorganisation can undo both.
ALTER TABLE utxos ADD COLUMN block_hash TEXT;
ALTER TABLE utxos ADD COLUMN spent_block TEXT;
ALTER TABLE utxos ADD COLUMN coinbase BIGINT NOT NULL DEFAULT 0;
CREATE INDEX utxos_block ON utxos(block_hash);
CREATE INDEX utxos_spent_block ON utxos(spent_block);

-- A broadcast transfer on chain: where it was mined (NULL: not yet) and its
-- broadcasts (rebroadcast until mined).
CREATE TABLE chain_transfers (
    transfer_id TEXT NOT NULL PRIMARY KEY REFERENCES transfers(id),
    txid TEXT NOT NULL,
    block_hash TEXT,
    height BIGINT,
    broadcasts BIGINT NOT NULL DEFAULT 0,
    last_broadcast_at BIGINT,
    last_error TEXT
);
CREATE INDEX chain_transfers_txid ON chain_transfers(txid);
CREATE INDEX chain_transfers_block ON chain_transfers(block_hash);

-- What the follower last learned from the node (one row), for GET /v1/chain.
CREATE TABLE chain_status (
    id BIGINT NOT NULL PRIMARY KEY,
    node_height BIGINT NOT NULL DEFAULT -1,
    node_tip TEXT NOT NULL DEFAULT '',
    node_chain TEXT NOT NULL DEFAULT '',
    fee_rate BIGINT NOT NULL DEFAULT 0,      -- sat per 1000 vB in use
    checked_at BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
INSERT INTO chain_status (id) VALUES (1);
CREATE INDEX transfers_txid ON transfers(txid);
