-- Schema version 6: official figures.  Periods (org unit x month) pass
-- open -> submitted -> approved -> accepted; a county-month that is
-- submitted or above is locked where reports are applied (the aggregator
-- refuses them STATUS_LOCKED).  Only the aggregator writes these tables, in
-- its writer thread, so a lock and the reports it refuses are ordered by one
-- writer (README "Official figures").

-- The current state of each period.  No row means open.
CREATE TABLE periods (
    org_code    text NOT NULL REFERENCES org_units (code),
    month       date NOT NULL CHECK (extract(day FROM month) = 1),
    state       text NOT NULL CHECK (state IN ('open', 'submitted', 'approved', 'accepted')),
    -- a lock exception: the period was reopened with a reason, so the entry
    -- deadline (entry_deadline_days) does not lock it until it is submitted
    -- again
    exception_open boolean NOT NULL DEFAULT false,
    set_by      text NOT NULL,                 -- the office that set the state
    set_at      timestamptz NOT NULL DEFAULT now(),
    reason      text NOT NULL DEFAULT '',
    PRIMARY KEY (org_code, month)
);

-- Every approval action and every refusal of one, in order.  Append-only:
-- the aggregator may only insert, and a trigger refuses UPDATE, DELETE and
-- TRUNCATE to every role (history is never deleted).
CREATE TABLE period_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    org_code    text NOT NULL,
    month       date NOT NULL,
    action      text NOT NULL CHECK (action IN ('submit', 'approve', 'accept', 'unlock')),
    outcome     text NOT NULL CHECK (outcome IN ('done', 'refused')),
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    actor       text NOT NULL,                 -- the office name
    actor_org   text NOT NULL,
    reason      text NOT NULL DEFAULT ''
);
CREATE INDEX period_audit_period ON period_audit (org_code, month, id);

CREATE FUNCTION period_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'period_audit is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER period_audit_no_update BEFORE UPDATE OR DELETE ON period_audit
    FOR EACH ROW EXECUTE FUNCTION period_audit_append_only();
CREATE TRIGGER period_audit_no_truncate BEFORE TRUNCATE ON period_audit
    FOR EACH STATEMENT EXECUTE FUNCTION period_audit_append_only();

-- Office credentials: one per office, bound to an org unit and a role.
-- secret_hash is libsodium's crypto_pwhash_str (Argon2id, salted); the
-- secret itself is never stored.  Written by `pufa office add` (the
-- migrating role), read by the aggregator.
CREATE TABLE offices (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
    org_code    text NOT NULL REFERENCES org_units (code),
    role        text NOT NULL CHECK (role IN ('submitter', 'approver', 'acceptor')),
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON periods TO pufa_aggregator;
GRANT SELECT, INSERT ON period_audit TO pufa_aggregator;
GRANT USAGE ON SEQUENCE period_audit_id_seq TO pufa_aggregator;
GRANT SELECT ON offices TO pufa_aggregator;
GRANT SELECT ON periods, period_audit TO pufa_publisher;
