#include "scope.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "orgunits.h"

int pub_request_scope_parse(pub_model *m, const char *org, const char *county,
                            pub_request_scope *out, char *msg, size_t msgsize) {
    memset(out, 0, sizeof *out);
    out->county = county;
    if (org && county) {
        snprintf(msg, msgsize, "org, county: give one (county=CODE is org=CODE)");
        return PUFA_EINVAL;
    }
    const char *param = org ? "org" : "county", *code = org ? org : county;
    if (code && !pufa_orgunit_code_valid(code)) {
        snprintf(msg, msgsize, "%s: a six-digit org-unit code (got %.20s)", param, code);
        return PUFA_EINVAL;
    }
    msg[0] = '\0';
    pub_model_rdlock(m);
    const pufa_orgunits *ou = pub_model_orgunits(m);
    const char *home = pub_model_home(m);
    const pufa_orgunit *hu = ou ? pufa_orgunits_find(ou, home) : NULL;
    const pufa_orgunit *u = !code ? hu : ou ? pufa_orgunits_find(ou, code) : NULL;
    if (code && !u)
        snprintf(msg, msgsize, "%s: %s is not an org unit", param, code);
    else if (code && hu && !pufa_orgunits_within(ou, code, home))
        snprintf(msg, msgsize, "%s: %s %s is not under this publisher's home %s %s", param, code,
                 u->name, hu->code, hu->name);
    else if (code && !org && strcmp(u->level, "county") != 0)
        snprintf(msg, msgsize, "county: %s %s is a %s, not a county; use org=%s", code, u->name,
                 u->level, code);
    if (!msg[0] && u) {
        pub_model_scope(m, u->code, &out->scope);
        pufa_copy(out->code, sizeof out->code, u->code);
        pufa_copy(out->level, sizeof out->level, u->level);
        pufa_copy(out->name, sizeof out->name, u->name);
    } else if (!msg[0]) { /* no home and no org units: every county */
        out->scope = (pub_scope){.level = -1};
    }
    pub_model_unlock(m);
    return msg[0] ? PUFA_EINVAL : 0;
}

int pub_request_scope_by(const pub_request_scope *s, int dim, char *msg, size_t msgsize) {
    int want = dim == DIM_COUNTY ? 3 : dim == DIM_CITY ? 2 : dim == DIM_PROVINCE ? 1 : 4;
    int have = s->code[0] ? pufa_orgunit_level_rank(s->level) : -1;
    if (want > 3 || want > have)
        return 0;
    snprintf(msg, msgsize, "by: %s is not below %s %s (a %s); use %s", pub_dim_names[dim], s->code,
             s->name, s->level,
             have >= 2   ? "county"
             : have == 1 ? "city or county"
                         : "province, city or county");
    return PUFA_EINVAL;
}

json_t *pub_request_scope_json(const pub_request_scope *s) {
    if (!s->code[0])
        return json_null();
    return json_pack("{s:s, s:s, s:s}", "code", s->code, "name", s->name, "level", s->level);
}
