/* One table per service drives config parsing, defaults, bounds, --help and
 * the effective-config dump.  Sources, later wins: defaults, the INI file
 * (--config FILE), command-line flags.
 *
 * The INI reader is strict where Debian's inih is lax: a line longer than
 * PUFA_CFG_MAX_LINE bytes, an indented line (inih would fold it into the
 * previous key), a repeated key, an unknown key or section are errors that
 * name the line. */
#ifndef PUFA_CONFIG_H
#define PUFA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PUFA_CFG_MAX_LINE 190

typedef enum pufa_cfg_type {
    PUFA_CFG_STRING, /* target: char ** (heap, freed by pufa_cfg_free) */
    PUFA_CFG_INT,    /* target: int64_t * */
    PUFA_CFG_SIZE,   /* target: int64_t *, bytes; "64MiB", "1GiB", "4096" */
    PUFA_CFG_MS,     /* target: int64_t *, milliseconds; "250ms", "5s", "2m", "1h" */
    PUFA_CFG_BOOL,   /* target: bool *; true/false/yes/no/on/off/1/0 */
} pufa_cfg_type;

enum {
    PUFA_CFG_SECRET = 1, /* never printed; must come from a file, not argv */
};

typedef struct pufa_cfg_opt {
    const char *name; /* INI key and --flag (with '_' written '-') */
    pufa_cfg_type type;
    void *target;
    const char *def;  /* default, in the config syntax; NULL = unset */
    int64_t min, max; /* bounds for INT/SIZE/MS (ignored when min == max == 0) */
    const char *help;
    int flags;
} pufa_cfg_opt;

typedef struct pufa_cfg {
    const char *program; /* "pufa-aggregator" */
    const char *summary; /* one line for --help */
    const char *section; /* the INI section for this service, e.g. "aggregator" */
    pufa_cfg_opt *opts;
    size_t nopts;
    /* set by pufa_cfg_load: */
    bool check_only; /* --check-config was given */
    char *config_path;
} pufa_cfg;

/* Applies defaults, --config FILE and flags.  Returns 0 to go on, or a
 * value > 0 meaning "exit now with (value - 1)": --help/--version exit 0,
 * usage errors 64 (EX_USAGE), config errors 78 (EX_CONFIG).  Messages go
 * to stdout (help) or stderr (errors). */
int pufa_cfg_load(pufa_cfg *cfg, int argc, char **argv);
/* Reads INI text (for tests and for pufa_cfg_load); errors into err. */
int pufa_cfg_parse_ini(pufa_cfg *cfg, const char *text, const char *origin, char *err,
                       size_t errsize);
/* Sets one option from its text form; 0 or PUFA_ECONFIG with err filled. */
int pufa_cfg_set(pufa_cfg *cfg, const char *name, const char *value, char *err, size_t errsize);
/* Writes the effective config as INI (secrets shown as "(set)"). */
void pufa_cfg_dump(const pufa_cfg *cfg, FILE *out);
void pufa_cfg_help(const pufa_cfg *cfg, FILE *out);
void pufa_cfg_free(pufa_cfg *cfg);

#endif
