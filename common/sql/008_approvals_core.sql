-- pufa schema, version 8: approvals on the feed and up the federation, and
-- lock refusals in the audit trail (README "Official figures").

-- periods:
--   commit_seq  the feed sequence of the transaction that last wrote the
--               row: the forwarder's outbox for period changes, read in
--               commit order with the reports (reports.commit_seq).
--   set_by_org  the org unit of the office that set it.
--   via         '' when an office of this level set it; else the link it
--               arrived from (the lower aggregator's sender name, e.g.
--               "aggregator-150800"): the lower level's state of a unit
--               under it, as that level wrote it.
--   src_seq     for a row that arrived from a link: the lower level's
--               commit sequence of that state.  A state older than the one
--               stored (a resend, a replay from an earlier cursor) is not
--               applied again.
ALTER TABLE periods
    ADD COLUMN commit_seq bigint,
    ADD COLUMN set_by_org text NOT NULL DEFAULT '',
    ADD COLUMN via text NOT NULL DEFAULT '',
    ADD COLUMN src_seq bigint;
CREATE INDEX periods_commit_seq ON periods (commit_seq) WHERE commit_seq IS NOT NULL;

-- period_audit gains the reports refused LOCKED (action 'refuse_report',
-- outcome 'refused'; one row per refused report, written in the batch's own
-- transaction: org_code/month name the locked period, from_state = to_state
-- its state, actor the sender, reason the refusal as the sender got it),
-- and the states received from a link (action 'remote': actor is the lower
-- level's office, via the link).  Still append-only: the triggers stay.
ALTER TABLE period_audit DROP CONSTRAINT period_audit_action_check;
ALTER TABLE period_audit ADD CONSTRAINT period_audit_action_check
    CHECK (action IN ('submit', 'approve', 'accept', 'unlock', 'refuse_report', 'remote'));
ALTER TABLE period_audit
    ADD COLUMN report_id uuid,
    ADD COLUMN revision integer,
    ADD COLUMN via text NOT NULL DEFAULT '';
