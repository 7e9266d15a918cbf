/* The org unit an API request reads: ?org=CODE (any unit under the home,
 * the home itself too), ?county=CODE (the same, for a county only), or,
 * with neither, the home.  Checked against the model's org units and home,
 * so that a unit outside the home is refused naming it. */
#ifndef PUB_SCOPE_H
#define PUB_SCOPE_H

#include <jansson.h>
#include <stddef.h>

#include "model.h"

typedef struct pub_request_scope {
    pub_scope scope; /* what the model's reads take */
    char code[7];    /* the unit ("" : no home and no org units: every county) */
    char level[10];
    char name[128];
    const char *county; /* ?county= as given, or NULL */
} pub_request_scope;

/* org, county: the values of ?org= and ?county= (NULL when absent).  0,
 * or PUFA_EINVAL with msg the 400's text naming the parameter and the code
 * (`org: 210400 抚顺市 is not under this publisher's home 150000
 * 内蒙古自治区`).  Takes the model's rdlock. */
int pub_request_scope_parse(pub_model *m, const char *org, const char *county,
                            pub_request_scope *out, char *msg, size_t msgsize);
/* A breakdown by an org-unit level (county, city, province) must be below
 * the unit read: by=city at a province or the nation, by=province at the
 * nation.  0, or PUFA_EINVAL with msg; any other dim is 0. */
int pub_request_scope_by(const pub_request_scope *s, int dim, char *msg, size_t msgsize);
/* {"code","name","level"} of the unit, or null. */
json_t *pub_request_scope_json(const pub_request_scope *s);

#endif
