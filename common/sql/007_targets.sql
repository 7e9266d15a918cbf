-- pufa schema, version 7: townships as a rollup dimension, and the yearly
-- targets of the duty lists (普法责任清单).

-- Townships as reported, normalised as one key: full-width ASCII
-- (U+FF01..U+FF5E) to half-width, U+3000 and U+00A0 to a space, runs of
-- spaces to one, none at either end.  The same rule as common/township.c
-- (the aggregator's rollups and the feed use that one): change both or
-- neither.
CREATE FUNCTION pufa_township_norm(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN btrim(regexp_replace(translate(t,
        '　 ！＂＃＄％＆＇（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［＼］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～',
        '  !"#$%&''()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~'),
        ' {2,}', ' ', 'g'), ' ');

-- No report may commit while the rollups change shape: an aggregator still
-- running waits here, and what it commits afterwards carries townships.
LOCK TABLE reports, rollup_journal, rollup_dim IN SHARE ROW EXCLUSIVE MODE;

-- 1. Fold what the journal still holds into rollup_dim (what the compactor
--    would do), so that every journal row from now on has a township and
--    the township totals can be taken whole from the reports.
INSERT INTO rollup_dim
SELECT day, county_code,
       CASE WHEN GROUPING(theme) = 0 THEN 'theme' WHEN GROUPING(venue) = 0 THEN 'venue'
            WHEN GROUPING(form) = 0 THEN 'form' WHEN GROUPING(unit_code) = 0 THEN 'unit'
            WHEN GROUPING(campaign) = 0 THEN 'campaign' ELSE 'total' END,
       coalesce(theme::text, venue::text, form::text, unit_code, campaign, ''),
       sum(reports), sum(sessions), sum(participants), sum(materials), sum(consultations),
       sum(banners), sum(led_messages), sum(online_posts), sum(online_views), sum(volunteers),
       sum(funds_fen)
FROM rollup_journal
GROUP BY GROUPING SETS ((day, county_code), (day, county_code, theme),
                        (day, county_code, venue), (day, county_code, form),
                        (day, county_code, unit_code), (day, county_code, campaign))
ON CONFLICT (day, county_code, dim, key) DO UPDATE SET
    reports = rollup_dim.reports + EXCLUDED.reports,
    sessions = rollup_dim.sessions + EXCLUDED.sessions,
    participants = rollup_dim.participants + EXCLUDED.participants,
    materials = rollup_dim.materials + EXCLUDED.materials,
    consultations = rollup_dim.consultations + EXCLUDED.consultations,
    banners = rollup_dim.banners + EXCLUDED.banners,
    led_messages = rollup_dim.led_messages + EXCLUDED.led_messages,
    online_posts = rollup_dim.online_posts + EXCLUDED.online_posts,
    online_views = rollup_dim.online_views + EXCLUDED.online_views,
    volunteers = rollup_dim.volunteers + EXCLUDED.volunteers,
    funds_fen = rollup_dim.funds_fen + EXCLUDED.funds_fen;
DELETE FROM rollup_journal;

-- 2. The journal carries the township (normalised) of each cell.
ALTER TABLE rollup_journal ADD COLUMN township text NOT NULL DEFAULT '';

-- 3. rollup_dim gains the dimension 'township' (key: the normalised name,
--    '' = none given), backfilled from the live reports.
ALTER TABLE rollup_dim DROP CONSTRAINT rollup_dim_dim_check;
ALTER TABLE rollup_dim ADD CONSTRAINT rollup_dim_dim_check
    CHECK (dim IN ('total', 'theme', 'venue', 'form', 'unit', 'campaign', 'township'));
INSERT INTO rollup_dim
SELECT occurred_on, county_code, 'township', pufa_township_norm(township),
       count(*), sum(sessions), sum(participants), sum(materials), sum(consultations),
       sum(banners), sum(led_messages), sum(online_posts), sum(online_views), sum(volunteers),
       sum(funds_fen)
FROM reports
WHERE NOT retracted
GROUP BY 1, 2, 4;

-- 4. The live view folds the journal's townships too.
CREATE OR REPLACE VIEW rollup_live AS
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
                WHEN GROUPING(campaign) = 0 THEN 'campaign'
                WHEN GROUPING(township) = 0 THEN 'township' ELSE 'total' END,
           coalesce(theme::text, venue::text, form::text, unit_code, campaign, township, ''),
           sum(reports), sum(sessions), sum(participants), sum(materials), sum(consultations),
           sum(banners), sum(led_messages), sum(online_posts), sum(online_views),
           sum(volunteers), sum(funds_fen)
    FROM rollup_journal
    GROUP BY GROUPING SETS ((day, county_code), (day, county_code, theme),
                            (day, county_code, venue), (day, county_code, form),
                            (day, county_code, unit_code), (day, county_code, campaign),
                            (day, county_code, township))
) AS parts
GROUP BY day, county_code, dim, key;

-- 5. Yearly targets (责任清单), loaded by `pufa migrate --targets FILE`: per
--    org unit (unit_code '') or per responsible unit inside a county, per
--    figure.  A load replaces the targets of the years its file names.
CREATE TABLE targets (
    year      integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    org_code  text NOT NULL REFERENCES org_units (code),
    unit_code text NOT NULL DEFAULT '',
    figure    text NOT NULL CHECK (figure IN ('reports', 'sessions', 'participants',
                                   'materials', 'consultations', 'banners', 'led_messages',
                                   'online_posts', 'online_views', 'volunteers', 'funds_fen')),
    target    bigint NOT NULL CHECK (target > 0),
    PRIMARY KEY (year, org_code, unit_code, figure)
);

-- Bumped by every load, in the load's transaction: the publisher polls this
-- one row and re-reads targets only when it changed.
CREATE TABLE targets_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   bigint NOT NULL DEFAULT 0,
    loaded_at timestamptz
);
INSERT INTO targets_state DEFAULT VALUES;

GRANT SELECT ON targets, targets_state TO pufa_publisher;
