/* Files of the web dashboard, compiled into the binary (cmake/embed.c), so
 * the page works on an offline intranet with nothing but the binary. */
#ifndef PUB_ASSETS_H
#define PUB_ASSETS_H

typedef struct pufa_asset {
    const char *path; /* URL path */
    const char *content_type;
    const unsigned char *data;
    unsigned long len;
} pufa_asset;

extern const pufa_asset pufa_assets[];
extern const unsigned long pufa_n_assets;

#endif
