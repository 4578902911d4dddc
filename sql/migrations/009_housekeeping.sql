-- The notification outbox's sending state (sql/functions/notifications.sql).

-- A notification is taken for sending with a lease: next_try_at moves out
-- (longer after each failed try), so that another hookd leaves it alone
-- meanwhile and a failed send is tried again later. After 10 tries it
-- stays unsent, with the last error, for an operator to read.
ALTER TABLE hookd.notifications
    ADD COLUMN IF NOT EXISTS tries integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS next_try_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS last_error text;
CREATE INDEX IF NOT EXISTS notifications_due
    ON hookd.notifications (next_try_at) WHERE sent_at IS NULL;
