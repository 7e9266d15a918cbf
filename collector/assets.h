/* Files of the data-entry page, compiled into the binary (cmake/embed.c),
 * so the page works on an intranet with nothing but the binary.  The
 * generated table is named col_assets (the publisher has its own). */
#ifndef COL_ASSETS_H
#define COL_ASSETS_H

#define pufa_asset    col_asset
#define pufa_assets   col_assets
#define pufa_n_assets col_n_assets

typedef struct col_asset {
    const char *path; /* URL path */
    const char *content_type;
    const unsigned char *data;
    unsigned long len;
} col_asset;

extern const col_asset col_assets[];
extern const unsigned long col_n_assets;

#endif
