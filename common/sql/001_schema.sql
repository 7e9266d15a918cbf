-- pufa schema, version 1.
-- Applied by `pufa migrate` (and by pufa-aggregator at start) inside one
-- transaction with the version row; never edit a released migration: add
-- the next number.

CREATE TABLE org_units (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name        text NOT NULL CHECK (name <> ''),
    level       text NOT NULL CHECK (level IN ('city', 'county')),
    parent_code text REFERENCES org_units (code)
);

-- Responsible units (责任单位) by code, e.g. SFJ 司法局.
CREATE TABLE units (
    unit_code text PRIMARY KEY,
    unit_name text NOT NULL,
    kind      text NOT NULL DEFAULT ''
);

-- The current revision of every report (retracted ones stay, flagged, so a
-- late copy of an older revision is recognised as stale).
CREATE TABLE reports (
    report_id     uuid PRIMARY KEY,
    revision      integer NOT NULL CHECK (revision >= 1),
    retracted     boolean NOT NULL DEFAULT false,
    county_code   text NOT NULL REFERENCES org_units (code),
    township      text NOT NULL DEFAULT '',
    unit_code     text NOT NULL,
    unit_name     text NOT NULL DEFAULT '',
    occurred_on   date NOT NULL,
    ended_on      date,
    theme         smallint NOT NULL CHECK (theme BETWEEN 1 AND 16),
    venue         smallint NOT NULL CHECK (venue BETWEEN 1 AND 13),
    form          smallint NOT NULL CHECK (form BETWEEN 1 AND 10),
    campaign      text NOT NULL DEFAULT '',
    title         text NOT NULL,
    sessions      bigint NOT NULL DEFAULT 0 CHECK (sessions BETWEEN 0 AND 4294967295),
    participants  bigint NOT NULL DEFAULT 0 CHECK (participants BETWEEN 0 AND 4294967295),
    materials     bigint NOT NULL DEFAULT 0 CHECK (materials BETWEEN 0 AND 4294967295),
    consultations bigint NOT NULL DEFAULT 0 CHECK (consultations BETWEEN 0 AND 4294967295),
    banners       bigint NOT NULL DEFAULT 0 CHECK (banners BETWEEN 0 AND 4294967295),
    led_messages  bigint NOT NULL DEFAULT 0 CHECK (led_messages BETWEEN 0 AND 4294967295),
    online_posts  bigint NOT NULL DEFAULT 0 CHECK (online_posts BETWEEN 0 AND 4294967295),
    online_views  bigint NOT NULL DEFAULT 0 CHECK (online_views BETWEEN 0 AND 4294967295),
    volunteers    bigint NOT NULL DEFAULT 0 CHECK (volunteers BETWEEN 0 AND 4294967295),
    funds_fen     bigint NOT NULL DEFAULT 0 CHECK (funds_fen >= 0),
    received_at   timestamptz,
    committed_at  timestamptz NOT NULL DEFAULT now(),
    collector_id  text NOT NULL DEFAULT ''
);
CREATE INDEX reports_county_occurred ON reports (county_code, occurred_on);

-- Every superseded revision, as it was.
CREATE TABLE report_history (
    LIKE reports INCLUDING DEFAULTS,
    superseded_at timestamptz NOT NULL DEFAULT now(),
    superseded_by integer NOT NULL,
    PRIMARY KEY (report_id, revision)
);

-- Sums of the live (non-retracted) current revisions per day (occurred_on)
-- x county x theme x venue x form x unit x campaign.  Changed in the same
-- transaction as the reports they sum.
CREATE TABLE rollup_daily (
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
    funds_fen     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, county_code, theme, venue, form, unit_code, campaign)
);

-- Reports received per city-calendar day, county and unit (liveness: who
-- has not reported).  Counts every committed revision, retractions too.
CREATE TABLE receipt_daily (
    day              date NOT NULL,
    county_code      text NOT NULL,
    unit_code        text NOT NULL,
    reports          bigint NOT NULL DEFAULT 0,
    last_received_at timestamptz,
    PRIMARY KEY (day, county_code, unit_code)
);

-- The sequence number of the last CommitDelta, written in the transaction
-- that the delta describes: a snapshot read in one transaction knows which
-- deltas it already contains.
CREATE TABLE feed_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq        bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO feed_state DEFAULT VALUES;

-- Least-privilege roles, one per service (cluster-wide; created once).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pufa_aggregator') THEN
        CREATE ROLE pufa_aggregator LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pufa_publisher') THEN
        CREATE ROLE pufa_publisher LOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO pufa_aggregator, pufa_publisher;
GRANT SELECT ON org_units, units, schema_migrations TO pufa_aggregator, pufa_publisher;
GRANT SELECT, INSERT, UPDATE ON reports, rollup_daily, receipt_daily TO pufa_aggregator;
GRANT SELECT, INSERT ON report_history TO pufa_aggregator;
GRANT SELECT, UPDATE ON feed_state TO pufa_aggregator;
GRANT SELECT ON reports, report_history, rollup_daily, receipt_daily, feed_state
    TO pufa_publisher;
