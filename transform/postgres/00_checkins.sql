-- The check-in list (see ../00_checkins.sql), in PostgreSQL: created empty when absent.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.checkins (
    entity_uuid TEXT NOT NULL,     -- the activity
    omni_user_uuid TEXT NOT NULL,  -- the user who checked in
    checked_in_at TIMESTAMPTZ NOT NULL
);
