/* The 普法 enumerations (DOMAIN.md).  Numbers are the wire numbers of
 * proto/pufa.proto and never change; JSON and CSV accept the ASCII code or
 * the Chinese label; dashboards show the label. */
#ifndef PUFA_ENUMS_H
#define PUFA_ENUMS_H

typedef enum pufa_enum_kind {
    PUFA_ENUM_THEME = 0,
    PUFA_ENUM_VENUE = 1,
    PUFA_ENUM_FORM = 2,
} pufa_enum_kind;

#define PUFA_THEME_MAX 16
#define PUFA_VENUE_MAX 13
#define PUFA_FORM_MAX  10

/* The field name ("theme", "venue", "form"). */
const char *pufa_enum_field(pufa_enum_kind kind);
/* Largest valid value (values run 1..max; 0 means unset). */
int pufa_enum_max(pufa_enum_kind kind);
/* ASCII code / Chinese label of a value, or NULL when out of range. */
const char *pufa_enum_code(pufa_enum_kind kind, int value);
const char *pufa_enum_label(pufa_enum_kind kind, int value);
/* Value for an ASCII code or Chinese label (exact match), or 0. */
int pufa_enum_lookup(pufa_enum_kind kind, const char *text);

#endif
