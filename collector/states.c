#include "states.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "date.h"
#include "log.h"
#include "report_json.h"
#include "uuid.h"

typedef struct entry {
    uint8_t id[16];
    uint32_t revision;
    uint8_t state; /* 0 = empty slot */
} entry;

typedef struct table {
    entry *slots;
    size_t cap, used;
} table;

struct states {
    pthread_mutex_t mu;
    table gen[2]; /* gen[0] current, gen[1] previous */
    size_t half;
    char *outcomes_path, *dead_path;
    FILE *outcomes;
    int dead_fd;
    uint64_t rejected;
};

const char *delivery_state_name(delivery_state s) {
    static const char *const names[] = {"unknown",   "spooled", "in_flight", "committed",
                                        "duplicate", "stale",   "rejected",  "locked"};
    return (unsigned)s < 8 ? names[s] : "unknown";
}

static uint64_t hash_id(const uint8_t *id) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 16; i++)
        h = (h ^ id[i]) * 1099511628211ULL;
    return h;
}

static void table_init(table *t, size_t cap) {
    t->cap = cap;
    t->used = 0;
    t->slots = pufa_calloc(cap, sizeof *t->slots);
}

static entry *table_find(table *t, const uint8_t *id, bool insert) {
    size_t mask = t->cap - 1;
    for (size_t i = hash_id(id) & mask, n = 0; n < t->cap; i = (i + 1) & mask, n++) {
        entry *e = &t->slots[i];
        if (e->state == 0)
            return insert ? e : NULL;
        if (!memcmp(e->id, id, 16))
            return e;
    }
    return NULL;
}

states *states_new(const char *dir, size_t cap) {
    states *s = pufa_calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    size_t pow2 = 1024;
    while (pow2 < cap)
        pow2 <<= 1;
    /* Each generation holds half the entries at a load factor of 1/2. */
    s->half = pow2 / 2;
    table_init(&s->gen[0], pow2);
    table_init(&s->gen[1], pow2);
    s->outcomes_path = pufa_asprintf("%s/outcomes.log", dir);
    s->dead_path = pufa_asprintf("%s/dead-letter.jsonl", dir);
    s->outcomes = fopen(s->outcomes_path, "a");
    if (!s->outcomes)
        PLOG_ERROR("COL-OUTCOMES-OPEN",
                   "path=%s error=\"%s\" msg=\"final states are not recorded on disk\"",
                   s->outcomes_path, strerror(errno));
    s->dead_fd = open(s->dead_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (s->dead_fd < 0)
        PLOG_ERROR("COL-DEADLETTER-OPEN",
                   "path=%s error=\"%s\" msg=\"rejected reports cannot be kept\"", s->dead_path,
                   strerror(errno));
    /* Count the dead letters already there. */
    FILE *f = fopen(s->dead_path, "r");
    if (f) {
        int c, last = '\n';
        while ((c = fgetc(f)) != EOF) {
            if (c == '\n')
                s->rejected++;
            last = c;
        }
        (void)last;
        fclose(f);
    }
    return s;
}

void states_destroy(states **ps) {
    if (!ps || !*ps)
        return;
    states *s = *ps;
    free(s->gen[0].slots);
    free(s->gen[1].slots);
    if (s->outcomes)
        fclose(s->outcomes);
    if (s->dead_fd >= 0)
        close(s->dead_fd);
    free(s->outcomes_path);
    free(s->dead_path);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
}

static void put(states *s, const uint8_t *id, uint32_t rev, delivery_state st) {
    entry *e = table_find(&s->gen[0], id, false);
    if (!e) {
        if (s->gen[0].used >= s->half) {
            /* Rotate: the previous generation is forgotten. */
            table tmp = s->gen[1];
            s->gen[1] = s->gen[0];
            s->gen[0] = tmp;
            memset(s->gen[0].slots, 0, s->gen[0].cap * sizeof(entry));
            s->gen[0].used = 0;
        }
        e = table_find(&s->gen[0], id, true);
        memcpy(e->id, id, 16);
        s->gen[0].used++;
    }
    /* A later revision's state wins; the same revision moves forward: a
     * final answer is not undone by a late "spooled" (the HTTP intake marks
     * a report spooled after its fsync, when the sender may already have
     * sent it and had the aggregator's answer, which a lock makes fast). */
    if (e->state && e->revision > rev)
        return;
    if (e->state && e->revision == rev && st <= DS_IN_FLIGHT && e->state >= DS_COMMITTED)
        return;
    e->revision = rev;
    e->state = (uint8_t)st;
}

void states_set(states *s, const char *report_id, uint32_t revision, delivery_state st) {
    uint8_t id[16];
    if (pufa_uuid_parse(report_id, id))
        return;
    pthread_mutex_lock(&s->mu);
    put(s, id, revision, st);
    pthread_mutex_unlock(&s->mu);
}

void states_final(states *s, const char *report_id, uint32_t revision, delivery_state st,
                  const char *reason, const pufa_report *report) {
    uint8_t id[16];
    if (pufa_uuid_parse(report_id, id))
        return;
    pthread_mutex_lock(&s->mu);
    put(s, id, revision, st);
    char canon[37];
    pufa_uuid_format(id, canon);
    if (s->outcomes)
        fprintf(s->outcomes, "%s %u %s\n", canon, revision, delivery_state_name(st));
    if (st == DS_REJECTED || st == DS_LOCKED) {
        s->rejected++;
        json_t *o = json_object();
        json_object_set_new(o, "report_id", json_string(canon));
        json_object_set_new(o, "status", json_string(delivery_state_name(st)));
        json_object_set_new(o, "revision", json_integer(revision));
        /* From another process: escaped where not UTF-8, never dropped. */
        json_object_set_new(o, "reason", pufa_json_text(reason));
        json_object_set_new(o, "rejected_at_ms", json_integer(pufa_now_ms()));
        if (report)
            json_object_set_new(o, "report", pufa_report_to_json(report));
        char *line = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        size_t len = line ? strlen(line) : 0;
        if (line)
            line[len] = '\n'; /* in place of the NUL: written as one line */
        if (s->dead_fd < 0 || !line || write(s->dead_fd, line, len + 1) != (ssize_t)(len + 1) ||
            fdatasync(s->dead_fd) != 0)
            PLOG_ERROR("COL-DEADLETTER", "msg=\"cannot write dead-letter.jsonl\" report_id=%s",
                       canon);
        free(line);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Searches the newest line about id in outcomes.log (then the dead letters
 * for the reason). */
static delivery_state search_files(states *s, const char *canon, uint32_t *rev, char *reason,
                                   size_t rsize) {
    delivery_state found = DS_UNKNOWN;
    if (s->outcomes)
        fflush(s->outcomes);
    FILE *f = fopen(s->outcomes_path, "r");
    if (f) {
        char line[128];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, canon, 36) != 0)
                continue;
            unsigned r;
            char st[16];
            if (sscanf(line + 36, " %u %15s", &r, st) == 2) {
                for (int i = DS_COMMITTED; i <= DS_LOCKED; i++)
                    if (!strcmp(st, delivery_state_name((delivery_state)i)) && r >= *rev) {
                        found = (delivery_state)i;
                        *rev = r;
                    }
            }
        }
        fclose(f);
    }
    if ((found == DS_REJECTED || found == DS_LOCKED) && reason) {
        FILE *d = fopen(s->dead_path, "r");
        if (d) {
            char *line = NULL;
            size_t cap = 0;
            while (getline(&line, &cap, d) > 0) {
                if (!strstr(line, canon))
                    continue;
                json_error_t jerr;
                json_t *o = json_loads(line, 0, &jerr);
                if (o) {
                    const char *rs = json_string_value(json_object_get(o, "reason"));
                    snprintf(reason, rsize, "%s", rs ? rs : "");
                    json_decref(o);
                }
            }
            free(line);
            fclose(d);
        }
    }
    return found;
}

delivery_state states_get(states *s, const char *report_id, uint32_t *revision, char *reason,
                          size_t reason_size) {
    uint8_t id[16];
    if (reason && reason_size)
        reason[0] = '\0';
    *revision = 0;
    if (pufa_uuid_parse(report_id, id))
        return DS_UNKNOWN;
    char canon[37];
    pufa_uuid_format(id, canon);
    pthread_mutex_lock(&s->mu);
    entry *e = table_find(&s->gen[0], id, false);
    if (!e)
        e = table_find(&s->gen[1], id, false);
    delivery_state st = e ? (delivery_state)e->state : DS_UNKNOWN;
    if (e)
        *revision = e->revision;
    if (st == DS_UNKNOWN || st == DS_REJECTED || st == DS_LOCKED)
        st = search_files(s, canon, revision, reason, reason_size);
    pthread_mutex_unlock(&s->mu);
    return st;
}

uint64_t states_rejected(states *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->rejected;
    pthread_mutex_unlock(&s->mu);
    return n;
}
