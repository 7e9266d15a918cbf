-- Schema version 9: the page's office sign-in.  The publisher (read-only)
-- may read which unit and role an office has, to show that office the
-- buttons it may use; never its secret_hash (a column grant: SELECT * and
-- the hash stay refused).  The credential itself is checked only by the
-- aggregator, on every action the page forwards (README "Official figures").
GRANT SELECT (name, org_code, role) ON offices TO pufa_publisher;
