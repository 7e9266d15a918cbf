#include "zap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "alloc.h"
#include "error.h"
#include "file.h"
#include "log.h"
#include "orgunits.h"

#define MAX_KEYS 4096
/* Far more than MAX_KEYS lines of "KEY COUNTY" with comments need. */
#define MAX_LIST_BYTES (16u * 1024u * 1024u)

#define MAX_DOMAINS 2

/* One ZAP domain's allow-list. */
typedef struct zap_list {
    char domain[32];
    char *path;
    char (*keys)[41];
    char (*counties)[7]; /* the org unit each key is bound to */
    size_t nkeys;
    _Atomic uint64_t revocations; /* reloads that dropped a key */
} zap_list;

struct zap {
    void *zctx;
    void *rep;
    pthread_t thread;
    pthread_mutex_t mu; /* guards every list's keys, counties, nkeys */
    zap_list lists[MAX_DOMAINS];
    int nlists;
    const pufa_orgunits *orgunits; /* the aggregator's, to check the codes; may be NULL */
    char home[7];
    _Atomic bool stopping, alive;
    _Atomic uint64_t accepted, denied;
};

int zap_parse_allow_list(const char *text, char (*keys)[41], char (*counties)[7], size_t max,
                         char *err, size_t errsize) {
    size_t n = 0;
    int line = 0;
    const char *p = text;
    while (*p) {
        line++;
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char buf[256];
        if (len >= sizeof buf) {
            snprintf(err, errsize, "line %d: too long", line);
            return PUFA_ECONFIG;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        /* Z85 keys may contain '#': a comment starts at a '#' that begins
         * the line or follows white space. */
        for (char *h = buf; *h; h++)
            if (*h == '#' && (h == buf || h[-1] == ' ' || h[-1] == '\t')) {
                *h = '\0';
                break;
            }
        char key[64], county[16], extra[8];
        int got = sscanf(buf, "%63s %15s %7s", key, county, extra);
        if (got == 2) {
            if (strlen(key) != 40) {
                snprintf(err, errsize, "line %d: the key must be 40 Z85 characters", line);
                return PUFA_ECONFIG;
            }
            uint8_t raw[32];
            if (!zmq_z85_decode(raw, key)) {
                snprintf(err, errsize, "line %d: the key is not valid Z85", line);
                return PUFA_ECONFIG;
            }
            if (!pufa_orgunit_code_valid(county)) {
                snprintf(err, errsize, "line %d: the org unit must be a six-digit code", line);
                return PUFA_ECONFIG;
            }
            for (size_t i = 0; i < n; i++)
                if (!strcmp(keys[i], key)) {
                    snprintf(err, errsize, "line %d: this key is listed twice", line);
                    return PUFA_ECONFIG;
                }
            if (n >= max) {
                snprintf(err, errsize, "line %d: more than %zu keys", line, max);
                return PUFA_ECONFIG;
            }
            memcpy(keys[n], key, 41);
            memcpy(counties[n], county, 7);
            n++;
        } else if (got > 0) {
            snprintf(err, errsize,
                     "line %d: want 'PUBLICKEY CODE' (a county, city, province or "
                     "nation code)",
                     line);
            return PUFA_ECONFIG;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return (int)n;
}

/* The line of text on which key is listed (keys are unique in a valid
 * list; a key starts its line, after white space). */
static int line_of(const char *text, const char *key) {
    int line = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            line++;
        else if ((p == text || p[-1] == '\n' || p[-1] == ' ' || p[-1] == '\t') &&
                 !strncmp(p, key, 40))
            return line;
    }
    return 0;
}

/* Every key's unit must be an org unit of this aggregator, and one whose
 * counties overlap the home: the home itself, under it or above it.  The
 * number of keys, or PUFA_ECONFIG with err naming the line. */
static int check_units(const zap *z, const char *text, char (*keys)[41], char (*units)[7], size_t n,
                       char *err, size_t errsize) {
    const pufa_orgunit *home = pufa_orgunits_find(z->orgunits, z->home);
    for (size_t i = 0; i < n; i++) {
        const pufa_orgunit *u = pufa_orgunits_find(z->orgunits, units[i]);
        if (!u) {
            snprintf(err, errsize,
                     "line %d: %s is not an org unit of this aggregator (load it "
                     "with pufa migrate --org-units)",
                     line_of(text, keys[i]), units[i]);
            return PUFA_ECONFIG;
        }
        if (home && !pufa_orgunits_within(z->orgunits, u->code, home->code) &&
            !pufa_orgunits_within(z->orgunits, home->code, u->code)) {
            snprintf(err, errsize,
                     "line %d: %s %s is neither under this aggregator's home %s %s "
                     "nor above it: its key could report for no county here",
                     line_of(text, keys[i]), u->code, u->name, home->code, home->name);
            return PUFA_ECONFIG;
        }
    }
    return (int)n;
}

/* Does the list `keys` (n) still hold every key of l? */
static bool holds_all(const zap_list *l, char (*keys)[41], size_t n) {
    for (size_t i = 0; i < l->nkeys; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = !strcmp(l->keys[i], keys[j]);
        if (!found)
            return false;
    }
    return true;
}

static int reload_list(zap *z, zap_list *l, char *err, size_t errsize) {
    char *text, why[300];
    int rc = pufa_read_file(l->path, MAX_LIST_BYTES, &text, NULL, why, sizeof why);
    if (rc == PUFA_ETOOBIG) {
        snprintf(err, errsize, "the allow-list %s", why);
        return PUFA_EIO;
    }
    if (rc) {
        snprintf(err, errsize, "cannot open the allow-list %s", l->path);
        return PUFA_EIO;
    }
    char(*keys)[41] = pufa_calloc(MAX_KEYS, 41);
    char(*counties)[7] = pufa_calloc(MAX_KEYS, 7);
    char e[200];
    int n = zap_parse_allow_list(text, keys, counties, MAX_KEYS, e, sizeof e);
    if (n >= 0 && z->orgunits)
        n = check_units(z, text, keys, counties, (size_t)n, e, sizeof e);
    free(text);
    if (n < 0) {
        snprintf(err, errsize, "%s: %s", l->path, e);
        free(keys);
        free(counties);
        return n;
    }
    pthread_mutex_lock(&z->mu);
    if (!holds_all(l, keys, (size_t)n))
        l->revocations++;
    free(l->keys);
    free(l->counties);
    l->keys = keys;
    l->counties = counties;
    l->nkeys = (size_t)n;
    pthread_mutex_unlock(&z->mu);
    return 0;
}

int zap_reload(zap *z, char *err, size_t errsize) {
    int rc = 0;
    for (int i = 0; i < z->nlists; i++) {
        int r = reload_list(z, &z->lists[i], err, errsize);
        if (r && !rc)
            rc = r;
    }
    return rc;
}

static zap_list *find_list(zap *z, const char *domain, size_t len) {
    for (int i = 0; i < z->nlists; i++)
        if (strlen(z->lists[i].domain) == len && !memcmp(z->lists[i].domain, domain, len))
            return &z->lists[i];
    return NULL;
}

static const char *lookup(const zap_list *l, const char *key) {
    for (size_t i = 0; i < l->nkeys; i++)
        if (!strcmp(l->keys[i], key))
            return l->counties[i];
    return NULL;
}

bool zap_allowed(zap *z, const char *key, const char *county) {
    if (!key || !county)
        return false;
    pthread_mutex_lock(&z->mu);
    const char *c = lookup(&z->lists[0], key);
    bool ok = c && !strcmp(c, county);
    pthread_mutex_unlock(&z->mu);
    return ok;
}

int zap_decide(const char (*keys)[41], const char (*counties)[7], size_t nkeys,
               const uint8_t *const *frames, const size_t *lens, int nframes, char county[7],
               char key[41], const char **why) {
    county[0] = key[0] = '\0';
    *why = "malformed request";
    if (nframes < 6 || lens[0] != 3 || memcmp(frames[0], "1.0", 3) != 0)
        return 400;
    if (lens[5] != 5 || memcmp(frames[5], "CURVE", 5) != 0) {
        *why = "CURVE required";
        return 400;
    }
    if (nframes < 7 || lens[6] != 32) {
        *why = "malformed CURVE credentials";
        return 400;
    }
    zmq_z85_encode(key, (uint8_t *)frames[6], 32);
    for (size_t i = 0; i < nkeys; i++)
        if (!strcmp(keys[i], key)) {
            memcpy(county, counties[i], 7);
            *why = "OK";
            return 200;
        }
    *why = "unknown key";
    return 400;
}

static void send_str(void *s, const char *str, bool more) {
    zmq_send(s, str, strlen(str), more ? ZMQ_SNDMORE : 0);
}

/* One ZAP request: version, request id, domain, address, routing id,
 * mechanism, credentials. */
static void handle(zap *z) {
    zmq_msg_t f[8];
    int n = 0;
    bool more = true;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->rep, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 8)
            f[n++] = m;
        else
            zmq_msg_close(&m);
    }
    if (n < 6) {
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
        return;
    }
    const uint8_t *frames[8];
    size_t lens[8];
    for (int i = 0; i < n; i++) {
        frames[i] = zmq_msg_data(&f[i]);
        lens[i] = zmq_msg_size(&f[i]);
    }
    char county[7], key[41];
    const char *text;
    /* The list of the request's domain; none: refused. */
    pthread_mutex_lock(&z->mu);
    const zap_list *l = find_list(z, (const char *)frames[2], lens[2]);
    int verdict = 400;
    county[0] = key[0] = '\0';
    text = "no allow-list for this ZAP domain";
    if (l)
        verdict = zap_decide((const char(*)[41])l->keys, (const char(*)[7])l->counties, l->nkeys,
                             frames, lens, n, county, key, &text);
    pthread_mutex_unlock(&z->mu);
    char domain[32] = "";
    memcpy(domain, frames[2], lens[2] < sizeof domain - 1 ? lens[2] : sizeof domain - 1);
    for (char *c = domain; *c; c++)
        if (*c < 0x21 || *c > 0x7e || *c == '"')
            *c = '?';
    const char *status = verdict == 200 ? "200" : "400";
    char addr[64] = "";
    size_t alen = zmq_msg_size(&f[3]) < sizeof addr - 1 ? zmq_msg_size(&f[3]) : sizeof addr - 1;
    memcpy(addr, zmq_msg_data(&f[3]), alen);
    if (status[0] == '2') {
        z->accepted++;
        PLOG_INFO("AGG-ZAP-ALLOW", "unit=%s address=%s domain=%s", county, addr, domain);
    } else {
        z->denied++;
        PLOG_WARN("AGG-ZAP-DENY", "reason=\"%s\" address=%s domain=%s key=%.8s...", text, addr,
                  domain, key[0] ? key : "none");
    }
    /* Reply: version, request id, status, text, user id, metadata. */
    zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(z->rep, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
    send_str(z->rep, status, true);
    send_str(z->rep, text, true);
    send_str(z->rep, county, true);
    if (status[0] == '2') {
        /* ZMTP metadata: name length (1 byte), name, value length (4 bytes,
         * network order), value. */
        uint8_t meta[64];
        const char *name = "X-Pufa-Key";
        size_t nl = strlen(name), o = 0;
        meta[o++] = (uint8_t)nl;
        memcpy(meta + o, name, nl);
        o += nl;
        meta[o++] = 0;
        meta[o++] = 0;
        meta[o++] = 0;
        meta[o++] = 40;
        memcpy(meta + o, key, 40);
        o += 40;
        zmq_send(z->rep, meta, o, 0);
    } else {
        zmq_send(z->rep, "", 0, 0);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

static void *zap_main(void *arg) {
    zap *z = arg;
    while (!z->stopping) {
        zmq_pollitem_t it = {.socket = z->rep, .events = ZMQ_POLLIN};
        int r = zmq_poll(&it, 1, 200);
        if (r < 0 && zmq_errno() != EINTR)
            break;
        if (r > 0)
            handle(z);
    }
    if (!z->stopping)
        PLOG_FATAL("AGG-ZAP-DEAD", "msg=\"the ZAP handler stopped: the service stops too\"");
    z->alive = false;
    return NULL;
}

static void free_lists(zap *z) {
    for (int i = 0; i < z->nlists; i++) {
        free(z->lists[i].keys);
        free(z->lists[i].counties);
        free(z->lists[i].path);
    }
    z->nlists = 0;
}

/* A new list for domain; it is used once loaded (the caller holds no lock:
 * before the handler thread starts, or before a socket of domain binds). */
static int add_list(zap *z, const char *domain, const char *allow_list, char *err, size_t errsize) {
    if (z->nlists >= MAX_DOMAINS || strlen(domain) >= sizeof z->lists[0].domain ||
        find_list(z, domain, strlen(domain))) {
        snprintf(err, errsize, "ZAP domain %s: already set or too many domains", domain);
        return PUFA_ECONFIG;
    }
    zap_list l = {0};
    snprintf(l.domain, sizeof l.domain, "%s", domain);
    l.path = pufa_strdup(allow_list);
    pthread_mutex_lock(&z->mu);
    z->lists[z->nlists] = l;
    pthread_mutex_unlock(&z->mu);
    int rc = reload_list(z, &z->lists[z->nlists], err, errsize);
    if (rc) {
        free(z->lists[z->nlists].path);
        return rc;
    }
    pthread_mutex_lock(&z->mu);
    z->nlists++;
    pthread_mutex_unlock(&z->mu);
    return 0;
}

int zap_add_domain(zap *z, const char *domain, const char *allow_list, char *err, size_t errsize) {
    return add_list(z, domain, allow_list, err, errsize);
}

int zap_open_domain(void *zctx, const char *domain, const char *allow_list,
                    const pufa_orgunits *orgunits, const char *home, zap **out, char *err,
                    size_t errsize) {
    zap *z = pufa_calloc(1, sizeof *z);
    z->zctx = zctx;
    z->orgunits = orgunits;
    snprintf(z->home, sizeof z->home, "%s", home ? home : "");
    pthread_mutex_init(&z->mu, NULL);
    int rc = add_list(z, domain, allow_list, err, errsize);
    if (rc)
        goto fail;
    z->rep = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;
    zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(z->rep, "inproc://zeromq.zap.01") != 0) {
        snprintf(err, errsize, "cannot bind the ZAP endpoint: %s", zmq_strerror(zmq_errno()));
        zmq_close(z->rep);
        rc = PUFA_EZMQ;
        goto fail;
    }
    z->alive = true;
    if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        zmq_close(z->rep);
        snprintf(err, errsize, "cannot start the ZAP thread");
        rc = PUFA_ESYS;
        goto fail;
    }
    *out = z;
    return 0;
fail:
    free_lists(z);
    pthread_mutex_destroy(&z->mu);
    free(z);
    return rc;
}

int zap_open(void *zctx, const char *allow_list, const pufa_orgunits *orgunits, const char *home,
             zap **out, char *err, size_t errsize) {
    return zap_open_domain(zctx, ZAP_DOMAIN, allow_list, orgunits, home, out, err, errsize);
}

bool zap_alive(zap *z) {
    return z->alive;
}

size_t zap_keys(zap *z) {
    pthread_mutex_lock(&z->mu);
    size_t n = z->lists[0].nkeys;
    pthread_mutex_unlock(&z->mu);
    return n;
}

size_t zap_domain_keys(zap *z, const char *domain) {
    pthread_mutex_lock(&z->mu);
    const zap_list *l = find_list(z, domain, strlen(domain));
    size_t n = l ? l->nkeys : 0;
    pthread_mutex_unlock(&z->mu);
    return n;
}

uint64_t zap_revocations(zap *z, const char *domain) {
    pthread_mutex_lock(&z->mu);
    const zap_list *l = find_list(z, domain, strlen(domain));
    uint64_t n = l ? l->revocations : 0;
    pthread_mutex_unlock(&z->mu);
    return n;
}

void zap_counts(zap *z, uint64_t *accepted, uint64_t *denied) {
    *accepted = z->accepted;
    *denied = z->denied;
}

void zap_close(zap **pz) {
    if (!pz || !*pz)
        return;
    zap *z = *pz;
    z->stopping = true;
    pthread_join(z->thread, NULL);
    zmq_close(z->rep);
    free_lists(z);
    pthread_mutex_destroy(&z->mu);
    free(z);
    *pz = NULL;
}
