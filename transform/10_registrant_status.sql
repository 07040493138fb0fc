-- Who is approved, rejected or signed in: the rows that `target-jing sync` sends back.
--
-- The rules of this example (edit them, they are yours):
--   * a pending registrant ("0") of a published activity is approved ("1") when the
--     user has a mobile identity, and rejected ("2") when the user has none;
--   * a registrant listed in raw.checkins is signed in ("1") at the check-in time.
-- A NULL status means "leave this field as it is". target-jing sends only what differs
-- from what the API last confirmed, so re-running this on unchanged data sends nothing.
CREATE SCHEMA IF NOT EXISTS decide;

CREATE OR REPLACE TABLE decide.registrant_status AS
WITH registrations AS (
    -- the newest copy of each registration, whatever the loader kept of older runs
    SELECT *
    FROM raw.activity_users
    QUALIFY row_number() OVER (
        PARTITION BY target_entity_uuid, omni_user_uuid ORDER BY updated_time DESC
    ) = 1
),
users AS (
    -- target-duckdb stores the nested `identities` list as JSON
    SELECT
        omni_user_uuid,
        bool_or(coalesce(
            list_contains(json_extract_string(identities, '$[*].type'), 'mobile'), false
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
