-- pufa schema, version 3: org units at every level of GB/T 2260.
--
-- Version 2 knew cities and counties only.  Version 3 adds the nation
-- (100000) and the provinces and autonomous regions (XX0000), so that one
-- deployment's home can be a city, a province or the nation, and states the
-- parent rules in the schema:
--
--   a county's parent is a city, a city's a province, a province's the
--   nation; the nation has none.  parent_code may be NULL at any other level
--   too: the top of what a database knows (the demo cities are loaded
--   without their provinces).
--
-- The rule is a foreign key on (parent_code, parent_level), parent_level
-- being derived from level, so it holds in both directions: a unit cannot
-- point at a parent of the wrong level, and a parent cannot change level
-- under its children.  Existing rows are checked as the constraints are
-- added: a version-2 database whose org units break a rule (a county under
-- a county, say) stops this migration with the constraint's name, and
-- nothing changes.

ALTER TABLE org_units DROP CONSTRAINT org_units_level_check;
ALTER TABLE org_units ADD CONSTRAINT org_units_level_check
    CHECK (level IN ('nation', 'province', 'city', 'county'));

-- The code says the level (GB/T 2260): 100000; XX0000; XXXX00; the last two
-- digits 01-99.
ALTER TABLE org_units ADD CONSTRAINT org_units_code_level_check CHECK (
    CASE level
        WHEN 'nation' THEN code = '100000'
        WHEN 'province' THEN code ~ '^[0-9]{2}0000$' AND code <> '100000'
        WHEN 'city' THEN code ~ '^[0-9]{4}00$' AND code !~ '0000$'
        ELSE code !~ '00$'
    END);

ALTER TABLE org_units ADD CONSTRAINT org_units_nation_root_check
    CHECK (level <> 'nation' OR parent_code IS NULL);

ALTER TABLE org_units ADD COLUMN parent_level text GENERATED ALWAYS AS (
    CASE level WHEN 'county' THEN 'city' WHEN 'city' THEN 'province'
               WHEN 'province' THEN 'nation' END) STORED;
ALTER TABLE org_units ADD CONSTRAINT org_units_code_level_key UNIQUE (code, level);
ALTER TABLE org_units ADD CONSTRAINT org_units_parent_level_fkey
    FOREIGN KEY (parent_code, parent_level) REFERENCES org_units (code, level);

-- Children by parent: "the counties under this unit" in SQL.
CREATE INDEX org_units_parent ON org_units (parent_code);
