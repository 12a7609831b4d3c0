-- kura-server schema, migration (recovery branch; the lead's number 0007):
-- the recovery scan of a wallet restored elsewhere (server/chain/rescan.h).
--
-- wallet_rescans: one row per wallet, the last scan asked for. The follower
-- that holds the lease runs it, block by block from from_height up to its
-- own tip; each block's findings and the row's progress commit together, so
-- a restart (of the process, or of the follower elsewhere) resumes at
-- next_height. A new request replaces the row (generation changes).
--   state: running | done
--   receive_used / change_used: the highest index used on chain (or
--     allocated here when the scan began) on each chain; the scan watches
--     every index up to used + gap_limit (BIP44's gap limit) and widens as
--     it finds more.
CREATE TABLE wallet_rescans (
    wallet_id TEXT NOT NULL PRIMARY KEY REFERENCES wallets(id),
    generation TEXT NOT NULL,                -- an id made at each request
    state TEXT NOT NULL,
    from_height BIGINT NOT NULL,
    gap_limit BIGINT NOT NULL,
    next_height BIGINT NOT NULL,             -- the next block to scan
    receive_used BIGINT NOT NULL DEFAULT -1,
    change_used BIGINT NOT NULL DEFAULT -1,
    outputs_found BIGINT NOT NULL DEFAULT 0, -- outputs paying the wallet, recorded
    spends_found BIGINT NOT NULL DEFAULT 0,  -- its coins spent, recorded
    addresses_marked BIGINT NOT NULL DEFAULT 0, -- address rows the scan allocated
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
