-- pufa database roles, for a PostgreSQL on its own machine.
--
-- `pufa migrate` creates the roles pufa_aggregator (write reports, history,
-- rollups; no DELETE, no DDL) and pufa_publisher (read-only), with the
-- grants in common/sql/001_schema.sql. On one machine they log in over the
-- unix socket with peer or trust authentication. When the services run on
-- other machines, give each role a password and allow it in pg_hba.conf:
--
--   psql -U postgres -d pufa -f deploy/sql/roles.sql
--   (then set the passwords interactively, see below)

-- Make sure the roles exist (migrate creates them; harmless if it did).
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

-- Each role: at most a few connections, and no way to exceed its grants.
ALTER ROLE pufa_aggregator CONNECTION LIMIT 8 NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE pufa_publisher CONNECTION LIMIT 16 NOSUPERUSER NOCREATEDB NOCREATEROLE;
-- The publisher's sessions are read-only even if a grant is ever widened.
ALTER ROLE pufa_publisher SET default_transaction_read_only = on;

-- Passwords: set them in psql with \password pufa_aggregator and
-- \password pufa_publisher (never in a file in the repository), then put them
-- in ~pufa/.pgpass (mode 0600) on the service hosts.
--
-- pg_hba.conf lines (scram-sha-256 only, from the service hosts only):
--   hostssl pufa pufa_aggregator 10.1.2.10/32 scram-sha-256
--   hostssl pufa pufa_publisher  10.1.2.11/32 scram-sha-256
