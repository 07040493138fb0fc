-- The decisions of ../10_registrant_status.sql, in PostgreSQL, on the tables that
-- MeltanoLabs' target-postgres writes (a nested list such as `identities` is JSONB[]).
-- Keep the two files' rules the same: the tests check that both decide alike.
CREATE SCHEMA IF NOT EXISTS decide;

DROP TABLE IF EXISTS decide.registrant_status;

CREATE TABLE decide.registrant_status AS
WITH registrations AS (
    -- the newest copy of each registration, whatever the loader kept of older runs
    SELECT DISTINCT ON (target_entity_uuid, omni_user_uuid) *
    FROM raw.activity_users
    ORDER BY target_entity_uuid, omni_user_uuid, updated_time DESC
),
users AS (
    SELECT
        omni_user_uuid,
        bool_or(coalesce(
            (SELECT bool_or(i ->> 'type' = 'mobile') FROM unnest(identities) AS i), false
        )) AS has_mobile
    FROM raw.users
    GROUP BY omni_user_uuid
),
approvals AS (
    -- a registrant whose user record has not arrived yet is left pending until it has
    SELECT
        r.target_entity_uuid AS entity_uuid,
        r.omni_user_uuid,
        CASE WHEN u.has_mobile THEN '1' ELSE '2' END AS ems_approvestatus
    FROM registrations AS r
    JOIN raw.activities AS a ON a.entity_uuid = r.target_entity_uuid
    JOIN users AS u ON u.omni_user_uuid = r.omni_user_uuid
    WHERE a.status = 'published' AND r.ems_approvestatus = '0'
),
signins AS (
    -- only registrants can be signed in; the earliest check-in counts
    SELECT
        c.entity_uuid,
        c.omni_user_uuid,
        '1' AS ems_signinstatus,
        min(c.checked_in_at) AS ems_signintimestamp
    FROM raw.checkins AS c
    JOIN registrations AS r
        ON r.target_entity_uuid = c.entity_uuid AND r.omni_user_uuid = c.omni_user_uuid
    GROUP BY c.entity_uuid, c.omni_user_uuid
)
SELECT
    coalesce(a.entity_uuid, s.entity_uuid) AS entity_uuid,
    coalesce(a.omni_user_uuid, s.omni_user_uuid) AS omni_user_uuid,
    a.ems_approvestatus,
    s.ems_signinstatus,
    s.ems_signintimestamp
FROM approvals AS a
FULL OUTER JOIN signins AS s
    ON s.entity_uuid = a.entity_uuid AND s.omni_user_uuid = a.omni_user_uuid
ORDER BY entity_uuid, omni_user_uuid;
