/* The data-entry page for offices without a reporting system: a Chinese
 * form for one report (collector/web/), served from the binary at / and
 * /entry, and what it needs to draw itself (GET /v1/entry/meta, behind the
 * intake token like POST /v1/reports, which the page submits to). */
#ifndef COL_ENTRY_H
#define COL_ENTRY_H

#include <stddef.h>

#include "assets.h"

/* The embedded file for a URL path ("/" and "/entry" are the page), or
 * NULL. */
const col_asset *entry_asset(const char *url);

/* {"county":{"code","name"},"themes"/"venues"/"forms":[{"code","label"}],
 *  "units":[{"code","name"}],"counters":[{"name","label","max"}],
 *  "campaigns":[…],"limits":{…}} as JSON text (caller frees), or NULL
 * with err when the units file cannot be read. */
char *entry_meta_json(const char *county, const char *county_name, const char *units_csv, char *err,
                      size_t errsize);

#endif
