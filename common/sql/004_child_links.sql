-- Schema version 4: how fresh each child's data is.
--
-- One row per sender that talks to this aggregator: a county's collector, or
-- the aggregator of a city (or province) below that forwards its committed
-- reports up.  Written from every ReportBatch and idle heartbeat (the
-- as_of_*/pending fields of proto/pufa.proto's ReportBatch); read by the
-- publisher for /v1/children and the page (数据截至 per child, link up or
-- down, backlog).
CREATE TABLE child_links (
    sender            text PRIMARY KEY,        -- ReportBatch.collector_id
    org_code          text NOT NULL REFERENCES org_units (code),
                                               -- the unit the sender's key is bound to
    kind              text NOT NULL CHECK (kind IN ('collector', 'forwarder')),
                                               -- from that unit's level: a county's key
                                               -- is a collector, a city's or a province's
                                               -- a forwarder
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL,    -- last batch or heartbeat received
    last_report_at    timestamptz,             -- last batch that carried reports
    as_of_seq         bigint,                  -- forwarder: its commit seq sent so far
    as_of_at          timestamptz,             -- forwarder: that commit's time (数据截至)
    lag_ms            bigint,                  -- forwarder: receive time - as_of_at,
                                               -- for the newest batch with reports
    pending           bigint,                  -- reports waiting at the sender
    oldest_pending_at timestamptz              -- when the oldest of those was received
);
CREATE INDEX child_links_org ON child_links (org_code);

GRANT SELECT, INSERT, UPDATE ON child_links TO pufa_aggregator;
GRANT SELECT ON child_links TO pufa_publisher;
