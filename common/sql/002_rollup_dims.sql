-- pufa schema, version 2: rollups per dimension, fed by a journal.
--
-- Version 1 kept one rollup row per day x county x theme x venue x form x
-- unit x campaign.  With varied data nearly every report is a cell of its
-- own, so that table grew with the reports: every commit paid an upsert per
-- report and the publisher's start-up read as many rows as there were
-- reports.  Version 2 splits it in two:
--
--   rollup_journal  what each commit changed, per cell (the CommitDelta's
--                   rows), appended in the reports' own transaction (COPY);
--   rollup_dim      the totals per day x county x ONE dimension, which the
--                   aggregator's compactor folds the journal into, moving
--                   rows out of the journal and into rollup_dim in one
--                   transaction.
--
-- The live totals are rollup_dim plus the journal (the view rollup_live):
-- any one snapshot sees each change exactly once.  rollup_dim is bounded by
-- days x counties x dimension values however many reports there are.

CREATE TABLE rollup_dim (
    day           date NOT NULL,
    county_code   text NOT NULL,
    -- 'total' (the county as a whole; key ''), 'theme', 'venue', 'form'
    -- (key: the enumeration number), 'unit' (unit code), 'campaign' (name,
    -- '' = none).
    dim           text NOT NULL CHECK (dim IN ('total', 'theme', 'venue', 'form', 'unit',
                                               'campaign')),
    key           text NOT NULL,
    reports       bigint NOT NULL DEFAULT 0,
    sessions      bigint NOT NULL DEFAULT 0,
    participants  bigint NOT NULL DEFAULT 0,
    materials     bigint NOT NULL DEFAULT 0,
    consultations bigint NOT NULL DEFAULT 0,
    banners       bigint NOT NULL DEFAULT 0,
    led_messages  bigint NOT NULL DEFAULT 0,
    online_posts  bigint NOT NULL DEFAULT 0,
    online_views  bigint NOT NULL DEFAULT 0,
    volunteers    bigint NOT NULL DEFAULT 0,
    funds_fen     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, county_code, dim, key)
) WITH (fillfactor = 70); -- room for HOT updates: the figures are not indexed

-- Signed changes per cell, one row per cell and commit (seq = the feed
-- sequence number of that commit).  Append-only until compacted.
CREATE TABLE rollup_journal (
    seq           bigint NOT NULL,
    day           date NOT NULL,
    county_code   text NOT NULL,
    theme         smallint NOT NULL,
    venue         smallint NOT NULL,
    form          smallint NOT NULL,
    unit_code     text NOT NULL,
    campaign      text NOT NULL,
    reports       bigint NOT NULL DEFAULT 0,
    sessions      bigint NOT NULL DEFAULT 0,
    participants  bigint NOT NULL DEFAULT 0,
    materials     bigint NOT NULL DEFAULT 0,
    consultations bigint NOT NULL DEFAULT 0,
    banners       bigint NOT NULL DEFAULT 0,
    led_messages  bigint NOT NULL DEFAULT 0,
    online_posts  bigint NOT NULL DEFAULT 0,
    online_views  bigint NOT NULL DEFAULT 0,
    volunteers    bigint NOT NULL DEFAULT 0,
    funds_fen     bigint NOT NULL DEFAULT 0
);

-- Carry version 1's totals over.
INSERT INTO rollup_dim
SELECT day, county_code,
       CASE WHEN GROUPING(theme) = 0 THEN 'theme' WHEN GROUPING(venue) = 0 THEN 'venue'
            WHEN GROUPING(form) = 0 THEN 'form' WHEN GROUPING(unit_code) = 0 THEN 'unit'
            WHEN GROUPING(campaign) = 0 THEN 'campaign' ELSE 'total' END,
       coalesce(theme::text, venue::text, form::text, unit_code, campaign, ''),
       sum(reports), sum(sessions), sum(participants), sum(materials), sum(consultations),
       sum(banners), sum(led_messages), sum(online_posts), sum(online_views), sum(volunteers),
       sum(funds_fen)
FROM rollup_daily
GROUP BY GROUPING SETS ((day, county_code), (day, county_code, theme),
                        (day, county_code, venue), (day, county_code, form),
                        (day, county_code, unit_code), (day, county_code, campaign));

DROP TABLE rollup_daily;

-- The live totals per day x county x dimension: what the publisher serves.
CREATE VIEW rollup_live AS
SELECT day, county_code, dim, key,
       sum(reports)::bigint AS reports, sum(sessions)::bigint AS sessions,
       sum(participants)::bigint AS participants, sum(materials)::bigint AS materials,
       sum(consultations)::bigint AS consultations, sum(banners)::bigint AS banners,
       sum(led_messages)::bigint AS led_messages, sum(online_posts)::bigint AS online_posts,
       sum(online_views)::bigint AS online_views, sum(volunteers)::bigint AS volunteers,
       sum(funds_fen)::bigint AS funds_fen
FROM (
    SELECT day, county_code, dim, key, reports, sessions, participants, materials,
           consultations, banners, led_messages, online_posts, online_views, volunteers,
           funds_fen
    FROM rollup_dim
    UNION ALL
    SELECT day, county_code,
           CASE WHEN GROUPING(theme) = 0 THEN 'theme' WHEN GROUPING(venue) = 0 THEN 'venue'
                WHEN GROUPING(form) = 0 THEN 'form' WHEN GROUPING(unit_code) = 0 THEN 'unit'
                WHEN GROUPING(campaign) = 0 THEN 'campaign' ELSE 'total' END,
           coalesce(theme::text, venue::text, form::text, unit_code, campaign, ''),
           sum(reports), sum(sessions), sum(participants), sum(materials), sum(consultations),
           sum(banners), sum(led_messages), sum(online_posts), sum(online_views),
           sum(volunteers), sum(funds_fen)
    FROM rollup_journal
    GROUP BY GROUPING SETS ((day, county_code), (day, county_code, theme),
                            (day, county_code, venue), (day, county_code, form),
                            (day, county_code, unit_code), (day, county_code, campaign))
) AS parts
GROUP BY day, county_code, dim, key;

GRANT SELECT, INSERT, UPDATE ON rollup_dim TO pufa_aggregator;
-- DELETE on the journal only: the compactor moves rows out of it.
GRANT SELECT, INSERT, DELETE ON rollup_journal TO pufa_aggregator;
GRANT SELECT ON rollup_dim, rollup_journal, rollup_live TO pufa_publisher, pufa_aggregator;
