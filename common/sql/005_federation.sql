-- Schema version 5: forwarding committed reports to the level above.
--
-- A city (or province) aggregator forwards every committed revision to the
-- aggregator of the level above.  Its outbox is the reports table itself:
-- each row carries the feed sequence number of the commit that wrote its
-- current revision (commit_seq), so "what is still to forward" is "the rows
-- after the cursor in (commit_seq, report_id) order".  The table holds only
-- the latest revision of a report, so when several revisions of one report
-- wait, only the latest is ever forwarded; a revision moves its row to the
-- end of the order, so it is forwarded again even when an older revision
-- already went up.  With one writer, sequence order is visibility order.
--
-- Existing rows were written by commits up to the feed sequence at the time
-- of this migration: they get that number (at least 1, so that they come
-- after the initial cursor), and so are all forwarded once forwarding is
-- configured.  Rows written behind the aggregator's back keep the default 0
-- and are never forwarded.
ALTER TABLE reports ADD COLUMN commit_seq bigint NOT NULL DEFAULT 0;
UPDATE reports SET commit_seq = greatest((SELECT seq FROM feed_state), 1);
-- The forwarder's read: rows after the cursor in commit order.
CREATE INDEX reports_commit_order ON reports (commit_seq, report_id);

-- Where forwarding stands: everything up to (acked_seq, acked_report_id) in
-- commit order was acknowledged by the level above (a NULL report id: every
-- row of acked_seq).  Moved only after the upper level's BatchAck, in the
-- same transaction as the refusals of that batch.  Setting it back (to 0 and
-- NULL: everything again) is always safe: the upper level applies with the
-- same idempotent rules and answers "duplicate".
CREATE TABLE forward_cursor (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    acked_seq       bigint NOT NULL DEFAULT 0 CHECK (acked_seq >= 0),
    acked_report_id uuid,
    upstream        text NOT NULL DEFAULT '',  -- the endpoint that acknowledged it
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO forward_cursor DEFAULT VALUES;

-- Reports the level above refused (BatchAck status REJECTED or LOCKED), with
-- its reason.  They do not stall the stream: the cursor moves past them.  A
-- later revision of the same report is forwarded like any other.
CREATE TABLE forward_refused (
    report_id  uuid NOT NULL,
    revision   integer NOT NULL,
    status     text NOT NULL CHECK (status IN ('rejected', 'locked')),
    reason     text NOT NULL,
    upstream   text NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report_id, revision)
);
CREATE INDEX forward_refused_at ON forward_refused (at);

GRANT SELECT, UPDATE ON forward_cursor TO pufa_aggregator;
GRANT SELECT, INSERT, UPDATE ON forward_refused TO pufa_aggregator;
GRANT SELECT ON forward_cursor, forward_refused TO pufa_publisher;
