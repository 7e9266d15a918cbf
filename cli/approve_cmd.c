/* pufa office: create an office credential (bound to an org unit and a
 * role), stored hashed in the database.
 * pufa approve / pufa unlock: ask the aggregator to submit, approve, accept
 * or reopen a period (POST /v1/approvals with the office's credential). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "config.h"
#include "httpc.h"
#include "keyfile.h"
#include "pg.h"
#include "report_json.h"

/* Writes a fresh random secret to path (mode 0600, never replaced) into
 * out[65] (64 hex digits). */
static int new_secret_file(const char *path, char out[65]) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "pufa office: cannot create %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (an existing secret is never replaced: choose another file)"
                                : "");
        return -1;
    }
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, 65, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    char line[66];
    snprintf(line, sizeof line, "%s\n", out);
    int rc = (write(fd, line, 65) == 65 && fsync(fd) == 0) ? 0 : -1;
    sodium_memzero(line, sizeof line);
    close(fd);
    if (rc)
        fprintf(stderr, "pufa office: cannot write %s\n", path);
    return rc;
}

int cmd_office(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "add") != 0) {
        fprintf(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
                "Usage: pufa office add --db CONNINFO --name NAME --org CODE "
                "--role submitter|approver|acceptor --secret-file FILE\n"
                "Creates (or re-keys) an office credential: a new random secret goes to FILE "
                "(mode 0600, for the office), its Argon2id hash to the offices table.\n");
        return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : EX_USAGE_;
    }
    char *db = NULL, *name = NULL, *org = NULL, *role = NULL, *secret_file = NULL;
    pufa_cfg_opt opts[] = {
        {"db", PUFA_CFG_STRING, &db, "", 0, 0, "PostgreSQL conninfo of the migrating role", 0},
        {"name", PUFA_CFG_STRING, &name, "", 0, 0,
         "the office's name, e.g. county-150821 (1-64 of A-Z a-z 0-9 _ . -)", 0},
        {"org", PUFA_CFG_STRING, &org, "", 0, 0, "the org unit it acts for", 0},
        {"role", PUFA_CFG_STRING, &role, "", 0, 0, "submitter, approver or acceptor", 0},
        {"secret_file", PUFA_CFG_STRING, &secret_file, "", 0, 0,
         "where to write the new secret (must not exist)", 0},
    };
    pufa_cfg cfg = {.program = "pufa office add",
                    .summary = "create an office credential bound to an org unit and a role",
                    .section = "office",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int rc = pufa_cfg_load(&cfg, argc - 1, argv + 1);
    if (rc) {
        pufa_cfg_free(&cfg);
        return rc - 1;
    }
    char err[512], secret[65], hash[crypto_pwhash_STRBYTES];
    PGconn *conn = NULL;
    const char *missing = !*db            ? "--db"
                          : !*name        ? "--name"
                          : !*org         ? "--org"
                          : !*role        ? "--role"
                          : !*secret_file ? "--secret-file"
                                          : NULL;
    if (missing) {
        fprintf(stderr, "pufa office add: %s is required\n", missing);
        rc = EX_USAGE_;
        goto out;
    }
    if (strcmp(role, "submitter") && strcmp(role, "approver") && strcmp(role, "acceptor")) {
        fprintf(stderr, "pufa office add: role: must be submitter, approver or acceptor (got %s)\n",
                role);
        rc = EX_USAGE_;
        goto out;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "pufa office add: libsodium cannot start\n");
        rc = EX_SOFTWARE_;
        goto out;
    }
    if (pufa_pg_connect(db, &conn, err, sizeof err)) {
        fprintf(stderr, "pufa office add: %s\n", err);
        rc = EX_UNAVAILABLE_;
        goto out;
    }
    if (new_secret_file(secret_file, secret)) {
        rc = EX_CANTCREAT_;
        goto out;
    }
    if (crypto_pwhash_str(hash, secret, strlen(secret), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(stderr, "pufa office add: crypto_pwhash_str: out of memory\n");
        rc = EX_SOFTWARE_;
        goto out;
    }
    const char *p[4] = {name, org, role, hash};
    PGresult *r = PQexecParams(conn,
                               "INSERT INTO offices (name, org_code, role, secret_hash)"
                               " VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE"
                               " SET org_code = EXCLUDED.org_code, role = EXCLUDED.role,"
                               " secret_hash = EXCLUDED.secret_hash, created_at = now()",
                               4, NULL, p, NULL, NULL, 0);
    if (pufa_pg_check(conn, r, PGRES_COMMAND_OK, "offices", err, sizeof err)) {
        fprintf(stderr, "pufa office add: %s\n", err);
        unlink(secret_file); /* a secret nobody can use */
        rc = EX_DATAERR_;
    } else {
        printf("office %s: %s of %s; secret in %s (mode 0600: give it to that office only)\n", name,
               role, org, secret_file);
    }
    PQclear(r);
out:
    sodium_memzero(secret, sizeof secret);
    if (conn)
        PQfinish(conn);
    pufa_cfg_free(&cfg);
    return rc;
}

/* approve (action submit/approve/accept) and unlock share everything but
 * the action and whether a reason is required. */
static int approval_cmd(int argc, char **argv, bool unlock) {
    const char *prog = unlock ? "pufa unlock" : "pufa approve";
    char *url = NULL, *office = NULL, *secret_file = NULL, *org = NULL, *month = NULL,
         *action = NULL, *reason = NULL;
    pufa_cfg_opt opts[] = {
        {"url", PUFA_CFG_STRING, &url, "http://127.0.0.1:7602", 0, 0,
         "the aggregator's HTTP address (its --http)", 0},
        {"office", PUFA_CFG_STRING, &office, "", 0, 0, "the office's name", 0},
        {"secret_file", PUFA_CFG_STRING, &secret_file, "", 0, 0,
         "file holding the office's secret (pufa office add wrote it)", 0},
        {"org", PUFA_CFG_STRING, &org, "", 0, 0, "the period's org unit", 0},
        {"month", PUFA_CFG_STRING, &month, "", 0, 0, "the period: YYYY-MM", 0},
        {"action", PUFA_CFG_STRING, &action, unlock ? "unlock" : "approve", 0, 0,
         unlock ? "always unlock" : "submit, approve or accept", 0},
        {"reason", PUFA_CFG_STRING, &reason, "", 0, 0,
         unlock ? "why the period is reopened (required; kept in the audit trail)"
                : "a note kept in the audit trail",
         0},
    };
    pufa_cfg cfg = {.program = prog,
                    .summary = unlock ? "reopen a period (a lock exception) with a reason"
                                      : "submit, approve or accept a period (org unit x month)",
                    .section = unlock ? "unlock" : "approve",
                    .opts = opts,
                    .nopts = sizeof opts / sizeof opts[0]};
    int rc = pufa_cfg_load(&cfg, argc, argv);
    if (rc) {
        pufa_cfg_free(&cfg);
        return rc - 1;
    }
    char err[512];
    char *secret = NULL, *headers = NULL, *body = NULL;
    pufa_http_response resp = {0};
    pufa_buf_init(&resp.body);
    const char *missing = !*office             ? "--office"
                          : !*secret_file      ? "--secret-file"
                          : !*org              ? "--org"
                          : !*month            ? "--month"
                          : unlock && !*reason ? "--reason"
                                               : NULL;
    if (missing) {
        fprintf(stderr, "%s: %s is required\n", prog, missing);
        rc = EX_USAGE_;
        goto out;
    }
    if (unlock && strcmp(action, "unlock") != 0) {
        fprintf(stderr, "%s: --action: pufa unlock only unlocks (use pufa approve)\n", prog);
        rc = EX_USAGE_;
        goto out;
    }
    if (pufa_read_secret_line(secret_file, 1, &secret, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", prog, err);
        rc = EX_CONFIG_;
        goto out;
    }
    /* HTTP Basic: base64(office:secret). */
    char *pair = pufa_asprintf("%s:%s", office, secret);
    size_t plen = strlen(pair);
    char *b64 = pufa_malloc(sodium_base64_ENCODED_LEN(plen, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(plen, sodium_base64_VARIANT_ORIGINAL),
                      (const unsigned char *)pair, plen, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(pair, plen);
    free(pair);
    headers = pufa_asprintf("Authorization: Basic %s\r\nContent-Type: application/json\r\n", b64);
    sodium_memzero(b64, strlen(b64));
    free(b64);
    json_t *o = json_object();
    json_object_set_new(o, "action", json_string(action));
    json_object_set_new(o, "org", pufa_json_text(org));
    json_object_set_new(o, "month", pufa_json_text(month));
    if (*reason)
        json_object_set_new(o, "reason", pufa_json_text(reason));
    body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *target = pufa_asprintf("%s/v1/approvals", url);
    int hrc = pufa_http_request("POST", target, headers, body, strlen(body), 30000, &resp, err,
                                sizeof err);
    free(target);
    if (hrc) {
        fprintf(stderr, "%s: %s\n", prog, err);
        rc = EX_UNAVAILABLE_;
        goto out;
    }
    pufa_buf_putc(&resp.body, '\0');
    json_error_t jerr;
    json_t *a = json_loads(resp.body.data, 0, &jerr);
    const char *e = a ? json_string_value(json_object_get(a, "error")) : NULL;
    if (resp.status == 200) {
        printf("%s %s: %s\n", org, month,
               json_string_value(json_object_get(a, "state"))
                   ? json_string_value(json_object_get(a, "state"))
                   : "done");
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(a, "changed"), i, c) {
            printf("  %s: %s -> %s\n", json_string_value(json_object_get(c, "org")),
                   json_string_value(json_object_get(c, "from")),
                   json_string_value(json_object_get(c, "to")));
        }
        rc = 0;
    } else {
        fprintf(stderr, "%s: refused (HTTP %d): %s\n", prog, resp.status, e ? e : resp.body.data);
        rc = resp.status == 401 || resp.status == 403 ? EX_CONFIG_
             : resp.status >= 500                     ? EX_UNAVAILABLE_
                                                      : EX_DATAERR_;
    }
    json_decref(a);
out:
    if (secret) {
        sodium_memzero(secret, strlen(secret));
        free(secret);
    }
    if (headers) {
        sodium_memzero(headers, strlen(headers));
        free(headers);
    }
    free(body);
    pufa_buf_free(&resp.body);
    pufa_cfg_free(&cfg);
    return rc;
}

int cmd_approve(int argc, char **argv) {
    return approval_cmd(argc, argv, false);
}

int cmd_unlock(int argc, char **argv) {
    return approval_cmd(argc, argv, true);
}
