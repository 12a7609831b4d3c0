-- kura-server schema, migration 2 (store branch): what the people domain
-- needs beyond 0001.

-- TOTP enrolment is two steps (a secret shown once, then confirmed with a
-- code from it), and a code once used is refused again (RFC 6238 section 5.2):
-- the last accepted time step is kept per user.
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- Sessions get a public id, so audit rows (session.ended) can name one
-- without the token's hash.
ALTER TABLE sessions ADD COLUMN id TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS sessions_id ON sessions(id);

-- Old sign-in windows are swept by their start.
CREATE INDEX IF NOT EXISTS signin_attempts_window ON signin_attempts(window_start);
