#include "entry.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "enums.h"
#include "report.h"
#include "report_json.h"
#include "template.h"

const col_asset *entry_asset(const char *url) {
    if (!strcmp(url, "/") || !strcmp(url, "/entry"))
        url = "/entry.html";
    for (unsigned long i = 0; i < col_n_assets; i++)
        if (!strcmp(col_assets[i].path, url))
            return &col_assets[i];
    return NULL;
}

static json_t *enum_list(pufa_enum_kind kind) {
    json_t *a = json_array();
    for (int v = 1; v <= pufa_enum_max(kind); v++) {
        json_t *o = json_object();
        json_object_set_new(o, "code", json_string(pufa_enum_code(kind, v)));
        json_object_set_new(o, "label", json_string(pufa_enum_label(kind, v)));
        json_array_append_new(a, o);
    }
    return a;
}

char *entry_meta_json(const char *county, const char *county_name, const char *units_csv, char *err,
                      size_t errsize) {
    pufa_units u;
    if (pufa_units_load(units_csv, &u, err, errsize)) {
        pufa_units_free(&u);
        return NULL;
    }
    json_t *o = json_object();
    json_t *c = json_object();
    json_object_set_new(c, "code", pufa_json_text(county ? county : ""));
    json_object_set_new(c, "name", pufa_json_text(county_name ? county_name : ""));
    json_object_set_new(o, "county", c);
    json_object_set_new(o, "themes", enum_list(PUFA_ENUM_THEME));
    json_object_set_new(o, "venues", enum_list(PUFA_ENUM_VENUE));
    json_object_set_new(o, "forms", enum_list(PUFA_ENUM_FORM));
    json_t *units = json_array();
    for (int i = 0; i < u.n; i++) {
        json_t *x = json_object();
        json_object_set_new(x, "code", pufa_json_text(u.code[i]));
        json_object_set_new(x, "name", pufa_json_text(u.name[i]));
        json_array_append_new(units, x);
    }
    json_object_set_new(o, "units", units);
    json_t *counters = json_array();
    for (int k = 0; k < PUFA_NCOUNTERS; k++) {
        json_t *x = json_object();
        json_object_set_new(x, "name", json_string(pufa_counter_names[k]));
        json_object_set_new(x, "label", json_string(pufa_counter_labels[k]));
        json_object_set_new(x, "max", json_integer(pufa_counter_max((pufa_counter)k)));
        json_array_append_new(counters, x);
    }
    json_object_set_new(o, "counters", counters);
    size_t n;
    const char *const *camp = pufa_template_campaigns(&n);
    json_t *campaigns = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(campaigns, json_string(camp[i]));
    json_object_set_new(o, "campaigns", campaigns);
    json_t *lim = json_object();
    json_object_set_new(lim, "title", json_integer(PUFA_TITLE_MAX_CHARS));
    json_object_set_new(lim, "township", json_integer(PUFA_NAME_MAX_CHARS));
    json_object_set_new(lim, "campaign", json_integer(PUFA_NAME_MAX_CHARS));
    json_object_set_new(o, "limits", lim);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    pufa_units_free(&u);
    return text;
}
