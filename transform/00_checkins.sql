-- The check-in list: who came to which activity, and when. In production a badge
-- scanner, a form export or another tap loads it; `make demo` seeds it. It is created
-- empty when absent, so that the decision step also runs before the first check-in.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.checkins (
    entity_uuid VARCHAR NOT NULL,     -- the activity
    omni_user_uuid VARCHAR NOT NULL,  -- the user who checked in
    checked_in_at TIMESTAMPTZ NOT NULL
);
