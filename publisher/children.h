/* How fresh each child's data is: the rows of child_links (one per sender
 * that talks to this level's aggregator: a county's collector, or the
 * aggregator of a city or province below that forwards up), read from
 * PostgreSQL at most once per cache period however many pages and streams
 * ask, and folded per child of an org unit:
 *   link      "up" (every sender seen within link_timeout_ms), "down" (one
 *             or more not seen since), "never" (no sender has talked to us)
 *   as_of     数据截至: a forwarder's as_of_at (the oldest of its senders'),
 *             a county's last report received
 *   lag_ms, pending, oldest_pending_age_ms, last_report_at, last_seen_at
 * so that a child whose link is down reads differently from one that is up
 * with nothing to report.  Thread-safe. */
#ifndef PUB_CHILDREN_H
#define PUB_CHILDREN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct pub_children pub_children;

/* db: conninfo (the publisher's role may SELECT child_links).  Nothing is
 * read until the first call of pub_children_json. */
pub_children *pub_children_new(const char *db, int64_t link_timeout_ms, int64_t cache_ms);
/* Accepts NULL and sets *c to NULL. */
void pub_children_destroy(pub_children **c);

/* The children of the org unit code (the model's org units; rdlock taken
 * inside), each with its link and freshness, into *out (the caller
 * decrefs): {"unit": {...}, "link_timeout_ms": N, "summary": {"up": N,
 * "down": N, "never": N}, "children": [...]}.  0, or PUFA_EDB /
 * PUFA_EDBDOWN with err filled (child_links unreadable), PUFA_ENOTFOUND
 * (code not an org unit). */
int pub_children_json(pub_children *c, pub_model *m, const char *code, json_t **out, char *err,
                      size_t errsize);

#endif
