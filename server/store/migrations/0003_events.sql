-- kura-server schema, migration 3 (events branch): what the webhook worker
-- needs beyond migration 1.
--
-- next_attempt_ms: when a delivery is next due, in unix milliseconds, so
-- back-off can start below a second (next_attempt_at keeps the same moment
-- in seconds, for people and the API).
-- event_seq: the audit seq of the delivery's event, copied from
-- webhook_events.audit_seq: an endpoint's deliveries go out strictly in
-- (event_seq, event_id) order, which is commit order (appenders to the
-- audit chain are serialised), unlike ids made within one millisecond.
ALTER TABLE webhook_deliveries ADD COLUMN next_attempt_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_deliveries ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(endpoint_id, state, event_seq, event_id);
CREATE INDEX webhook_deliveries_next ON webhook_deliveries(state, next_attempt_ms);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id);
