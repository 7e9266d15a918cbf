#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "file.h"

enum { EX_USAGE_ = 64, EX_CONFIG_ = 78 };

static pufa_cfg_opt *find_opt(pufa_cfg *cfg, const char *name) {
    for (size_t i = 0; i < cfg->nopts; i++) {
        const char *a = cfg->opts[i].name, *b = name;
        while (*a && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return &cfg->opts[i];
    }
    return NULL;
}

static bool parse_i64(const char *s, int64_t *out, const char **rest) {
    char *end;
    if (!*s)
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno)
        return false;
    *out = v;
    *rest = end;
    return true;
}

int pufa_cfg_set(pufa_cfg *cfg, const char *name, const char *value, char *err, size_t errsize) {
    pufa_cfg_opt *o = find_opt(cfg, name);
    if (!o) {
        snprintf(err, errsize, "unknown setting '%s'", name);
        return PUFA_ECONFIG;
    }
    int64_t v = 0;
    const char *rest = "";
    switch (o->type) {
    case PUFA_CFG_STRING: {
        char **t = o->target;
        free(*t);
        *t = pufa_strdup(value);
        return 0;
    }
    case PUFA_CFG_BOOL: {
        bool *t = o->target;
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on") ||
            !strcmp(value, "1"))
            *t = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") ||
                 !strcasecmp(value, "off") || !strcmp(value, "0"))
            *t = false;
        else {
            snprintf(err, errsize, "%s: must be true or false (got '%s')", o->name, value);
            return PUFA_ECONFIG;
        }
        return 0;
    }
    case PUFA_CFG_INT:
        if (!parse_i64(value, &v, &rest) || *rest) {
            snprintf(err, errsize, "%s: must be a whole number (got '%s')", o->name, value);
            return PUFA_ECONFIG;
        }
        break;
    case PUFA_CFG_SIZE: {
        if (!parse_i64(value, &v, &rest)) {
            snprintf(err, errsize, "%s: must be a size like 512MiB (got '%s')", o->name, value);
            return PUFA_ECONFIG;
        }
        int64_t mult = 1;
        if (!*rest || !strcmp(rest, "B"))
            mult = 1;
        else if (!strcmp(rest, "KiB") || !strcmp(rest, "K"))
            mult = 1024;
        else if (!strcmp(rest, "MiB") || !strcmp(rest, "M"))
            mult = 1024 * 1024;
        else if (!strcmp(rest, "GiB") || !strcmp(rest, "G"))
            mult = 1024LL * 1024 * 1024;
        else {
            snprintf(err, errsize, "%s: unknown size unit '%s' (use B, KiB, MiB, GiB)", o->name,
                     rest);
            return PUFA_ECONFIG;
        }
        if (v > INT64_MAX / mult || v < 0) {
            snprintf(err, errsize, "%s: size out of range (got '%s')", o->name, value);
            return PUFA_ECONFIG;
        }
        v *= mult;
        break;
    }
    case PUFA_CFG_MS: {
        if (!parse_i64(value, &v, &rest)) {
            snprintf(err, errsize, "%s: must be a duration like 500ms or 5s (got '%s')", o->name,
                     value);
            return PUFA_ECONFIG;
        }
        int64_t mult;
        if (!strcmp(rest, "ms"))
            mult = 1;
        else if (!strcmp(rest, "s") || !*rest)
            mult = 1000;
        else if (!strcmp(rest, "m"))
            mult = 60000;
        else if (!strcmp(rest, "h"))
            mult = 3600000;
        else if (!strcmp(rest, "d"))
            mult = 86400000;
        else {
            snprintf(err, errsize, "%s: unknown duration unit '%s' (use ms, s, m, h, d)", o->name,
                     rest);
            return PUFA_ECONFIG;
        }
        if (v > INT64_MAX / mult || v < 0) {
            snprintf(err, errsize, "%s: duration out of range (got '%s')", o->name, value);
            return PUFA_ECONFIG;
        }
        v *= mult;
        break;
    }
    }
    if ((o->min || o->max) && (v < o->min || v > o->max)) {
        snprintf(err, errsize, "%s: must be between %lld and %lld (got '%s')", o->name,
                 (long long)o->min, (long long)o->max, value);
        return PUFA_ECONFIG;
    }
    *(int64_t *)o->target = v;
    return 0;
}

typedef struct {
    pufa_cfg *cfg;
    const char *origin;
    char *err;
    size_t errsize;
    int rc;
    bool seen[128];
} ini_state;

static int on_ini(void *user, const char *section, const char *name, const char *value
#if INI_HANDLER_LINENO
                  ,
                  int lineno
#endif
) {
    ini_state *st = user;
    if (st->rc)
        return 0;
    if (*section && strcmp(section, st->cfg->section) != 0) {
        snprintf(st->err, st->errsize, "%s: unknown section [%s] (this service reads [%s])",
                 st->origin, section, st->cfg->section);
        st->rc = PUFA_ECONFIG;
        return 0;
    }
    pufa_cfg_opt *o = find_opt(st->cfg, name);
    if (!o) {
        snprintf(st->err, st->errsize, "%s: unknown setting '%s'", st->origin, name);
        st->rc = PUFA_ECONFIG;
        return 0;
    }
    size_t idx = (size_t)(o - st->cfg->opts);
    if (idx < 128 && st->seen[idx]) {
        snprintf(st->err, st->errsize, "%s: '%s' is set twice", st->origin, name);
        st->rc = PUFA_ECONFIG;
        return 0;
    }
    if (idx < 128)
        st->seen[idx] = true;
    char e[256];
    if (pufa_cfg_set(st->cfg, name, value ? value : "", e, sizeof e) != 0) {
        snprintf(st->err, st->errsize, "%s: %s", st->origin, e);
        st->rc = PUFA_ECONFIG;
        return 0;
    }
    return 1;
}

int pufa_cfg_parse_ini(pufa_cfg *cfg, const char *text, const char *origin, char *err,
                       size_t errsize) {
    /* The checks inih does not make. */
    int line = 1;
    const char *p = text;
    if (strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        size_t content = len;
        if (content && p[content - 1] == '\r')
            content--;
        if (content > PUFA_CFG_MAX_LINE) {
            snprintf(err, errsize, "%s line %d: longer than %d bytes", origin, line,
                     PUFA_CFG_MAX_LINE);
            return PUFA_ECONFIG;
        }
        if (content && (p[0] == ' ' || p[0] == '\t')) {
            size_t i = 0;
            while (i < content && (p[i] == ' ' || p[i] == '\t'))
                i++;
            if (i < content) {
                snprintf(err, errsize,
                         "%s line %d: indented line (continuation lines are not allowed)", origin,
                         line);
                return PUFA_ECONFIG;
            }
        }
        if (memchr(p, '\0', len)) {
            snprintf(err, errsize, "%s line %d: NUL byte", origin, line);
            return PUFA_ECONFIG;
        }
        line++;
        if (!nl)
            break;
        p = nl + 1;
    }
    ini_state st;
    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    st.origin = origin;
    st.err = err;
    st.errsize = errsize;
    int r = ini_parse_string(text, on_ini, &st);
    if (st.rc)
        return st.rc;
    if (r != 0) {
        snprintf(err, errsize, "%s line %d: not a 'key = value', '[section]' or comment line",
                 origin, r);
        return PUFA_ECONFIG;
    }
    return 0;
}

static char *read_file(const char *path, char *err, size_t errsize) {
    char *text;
    char why[300];
    int rc = pufa_read_file(path, 1024 * 1024, &text, NULL, why, sizeof why);
    if (rc == PUFA_ETOOBIG)
        snprintf(err, errsize, "config file %s is larger than 1 MiB", path);
    else if (rc)
        snprintf(err, errsize, "cannot open config file %s", why);
    return rc ? NULL : text;
}

static const char *type_hint(pufa_cfg_type t) {
    switch (t) {
    case PUFA_CFG_STRING:
        return "TEXT";
    case PUFA_CFG_INT:
        return "N";
    case PUFA_CFG_SIZE:
        return "SIZE";
    case PUFA_CFG_MS:
        return "DURATION";
    case PUFA_CFG_BOOL:
        return "BOOL";
    }
    return "";
}

void pufa_cfg_help(const pufa_cfg *cfg, FILE *out) {
    fprintf(out, "%s %s - %s\n\n", cfg->program, PUFA_VERSION, cfg->summary);
    fprintf(out, "Usage: %s [--config FILE] [--OPTION VALUE ...]\n\n", cfg->program);
    fprintf(out,
            "Options (also settable as 'name = value' in the [%s] section of the config "
            "file;\ncommand-line flags win):\n",
            cfg->section);
    for (size_t i = 0; i < cfg->nopts; i++) {
        const pufa_cfg_opt *o = &cfg->opts[i];
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *c = flag; *c; c++)
            if (*c == '_')
                *c = '-';
        fprintf(out, "  %-22s %-8s %s", flag, type_hint(o->type), o->help);
        if (o->def && !(o->flags & PUFA_CFG_SECRET))
            fprintf(out, " [default: %s]", *o->def ? o->def : "\"\"");
        if (o->flags & PUFA_CFG_SECRET)
            fprintf(out, " (config file only)");
        fputc('\n', out);
    }
    fprintf(out, "  %-22s %-8s %s\n", "--config", "FILE", "read settings from an INI file");
    fprintf(out, "  %-22s %-8s %s\n", "--check-config", "",
            "load and check the configuration, print it, and exit");
    fprintf(out, "  %-22s %-8s %s\n", "--help", "", "show this help and exit");
    fprintf(out, "  %-22s %-8s %s\n", "--version", "", "show the version and exit");
    fprintf(out, "\nExit codes: 0 ok, 64 usage error, 65 bad data, 69 service unavailable, "
                 "78 configuration error.\n");
}

void pufa_cfg_dump(const pufa_cfg *cfg, FILE *out) {
    fprintf(out, "[%s]\n", cfg->section);
    for (size_t i = 0; i < cfg->nopts; i++) {
        const pufa_cfg_opt *o = &cfg->opts[i];
        switch (o->type) {
        case PUFA_CFG_STRING: {
            const char *v = *(char **)o->target;
            if (o->flags & PUFA_CFG_SECRET)
                fprintf(out, "%s = %s\n", o->name, v && *v ? "(set)" : "");
            else
                fprintf(out, "%s = %s\n", o->name, v ? v : "");
            break;
        }
        case PUFA_CFG_BOOL:
            fprintf(out, "%s = %s\n", o->name, *(bool *)o->target ? "true" : "false");
            break;
        case PUFA_CFG_MS:
            fprintf(out, "%s = %lldms\n", o->name, (long long)*(int64_t *)o->target);
            break;
        default:
            fprintf(out, "%s = %lld\n", o->name, (long long)*(int64_t *)o->target);
            break;
        }
    }
}

int pufa_cfg_load(pufa_cfg *cfg, int argc, char **argv) {
    char err[512];
    for (size_t i = 0; i < cfg->nopts; i++) {
        pufa_cfg_opt *o = &cfg->opts[i];
        if (o->type == PUFA_CFG_STRING)
            *(char **)o->target = NULL;
        if (o->def && pufa_cfg_set(cfg, o->name, o->def, err, sizeof err) != 0) {
            fprintf(stderr, "%s: bad built-in default: %s\n", cfg->program, err);
            return 1 + EX_CONFIG_;
        }
    }
    /* First pass: --help, --version, --config. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            pufa_cfg_help(cfg, stdout);
            return 1 + 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("%s %s\n", cfg->program, PUFA_VERSION);
            return 1 + 0;
        }
        if (!strcmp(argv[i], "--check-config")) {
            cfg->check_only = true;
        } else if (!strcmp(argv[i], "--config") || !strncmp(argv[i], "--config=", 9)) {
            const char *v = argv[i][8] == '=' ? argv[i] + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                fprintf(stderr, "%s: --config needs a file name\n", cfg->program);
                return 1 + EX_USAGE_;
            }
            free(cfg->config_path);
            cfg->config_path = pufa_strdup(v);
        }
    }
    if (cfg->config_path) {
        char *text = read_file(cfg->config_path, err, sizeof err);
        if (!text) {
            fprintf(stderr, "%s: %s\n", cfg->program, err);
            return 1 + EX_CONFIG_;
        }
        int rc = pufa_cfg_parse_ini(cfg, text, cfg->config_path, err, sizeof err);
        free(text);
        if (rc) {
            fprintf(stderr, "%s: %s\n", cfg->program, err);
            return 1 + EX_CONFIG_;
        }
    }
    /* Second pass: the flags. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--check-config"))
            continue;
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9))
            continue;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", cfg->program, a);
            return 1 + EX_USAGE_;
        }
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nlen >= sizeof name) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", cfg->program, a);
            return 1 + EX_USAGE_;
        }
        memcpy(name, a + 2, nlen);
        name[nlen] = '\0';
        pufa_cfg_opt *o = find_opt(cfg, name);
        if (!o) {
            fprintf(stderr, "%s: unknown option '--%s' (see --help)\n", cfg->program, name);
            return 1 + EX_USAGE_;
        }
        if (o->flags & PUFA_CFG_SECRET) {
            fprintf(stderr,
                    "%s: --%s is a secret: put it in the config file, not on the command line\n",
                    cfg->program, name);
            return 1 + EX_USAGE_;
        }
        const char *v;
        if (eq)
            v = eq + 1;
        else if (o->type == PUFA_CFG_BOOL && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)))
            v = "true";
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            fprintf(stderr, "%s: --%s needs a value\n", cfg->program, name);
            return 1 + EX_USAGE_;
        }
        if (pufa_cfg_set(cfg, name, v, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", cfg->program, err);
            return 1 + EX_USAGE_;
        }
    }
    return 0;
}

void pufa_cfg_free(pufa_cfg *cfg) {
    for (size_t i = 0; i < cfg->nopts; i++) {
        if (cfg->opts[i].type == PUFA_CFG_STRING) {
            char **t = cfg->opts[i].target;
            free(*t);
            *t = NULL;
        }
    }
    free(cfg->config_path);
    cfg->config_path = NULL;
}
