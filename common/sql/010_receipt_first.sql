-- Schema version 10: the first receipt of each county x responsible unit x
-- activity month, for exact timeliness (README "Completeness"): a unit is
-- on time for month M when its first report of activities in M arrived by
-- M's last day + timely_days.  The aggregator writes it in the transaction
-- that commits the reports (every committed revision that is not a
-- retraction counts as a receipt of its occurred_on's month), and the feed
-- carries the month of each receipt (Receipt.month).

CREATE TABLE receipt_first (
    county_code       text NOT NULL,
    unit_code         text NOT NULL,
    month             date NOT NULL CHECK (extract(day FROM month) = 1),
    first_received_at timestamptz NOT NULL,
    PRIMARY KEY (county_code, unit_code, month)
);

-- Reports committing meanwhile wait, so that none falls between the
-- backfill and the first commit of an aggregator that writes the table (it
-- applies the migrations when it starts).
LOCK TABLE reports, report_history IN SHARE MODE;

-- Backfill from every revision kept: the current ones and those superseded
-- (report_history).  A report received before received_at was recorded
-- counts from its commit, as the aggregator counts one without it.
INSERT INTO receipt_first (county_code, unit_code, month, first_received_at)
SELECT county_code, unit_code, date_trunc('month', occurred_on)::date,
       min(coalesce(received_at, committed_at))
FROM (SELECT county_code, unit_code, occurred_on, received_at, committed_at, retracted
      FROM reports
      UNION ALL
      SELECT county_code, unit_code, occurred_on, received_at, committed_at, retracted
      FROM report_history) AS r
WHERE NOT retracted AND occurred_on >= DATE '2000-01-01'
GROUP BY 1, 2, 3;

GRANT SELECT, INSERT, UPDATE ON receipt_first TO pufa_aggregator;
GRANT SELECT ON receipt_first TO pufa_publisher;
