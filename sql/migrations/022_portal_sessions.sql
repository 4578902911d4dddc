-- Portal sessions (docs/portal.md): short-lived bearer tokens (hkp_) that
-- let one application's own customers manage its endpoints and watch its
-- deliveries. As for API keys, only the token's SHA-256 is kept. labels
-- narrows a session to the endpoints whose label filter carries them, and
-- to their events and deliveries.
CREATE TABLE IF NOT EXISTS hookd.portal_sessions (
    app_id      text NOT NULL REFERENCES hookd.applications (id) ON DELETE CASCADE,
    id          text NOT NULL DEFAULT hookd.new_id('ps'),
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    prefix      text NOT NULL,
    read_only   boolean NOT NULL DEFAULT false,
    labels      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    PRIMARY KEY (app_id, id)
);
