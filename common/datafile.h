/* Where the data files shipped with pufa are (the org units and responsible
 * units of the sample cities): the install prefix's share/pufa, fixed when
 * the program was built; or, for a program run from its own build tree, the
 * checkout's deploy/data.  An installed binary never points into a checkout. */
#ifndef PUFA_DATAFILE_H
#define PUFA_DATAFILE_H

/* The full path of data file NAME (e.g. "org_units.csv"); the caller frees
 * it.  Never NULL. */
char *pufa_data_file(const char *name);

/* The folder pufa_data_file() looks in (the same rule). */
const char *pufa_data_dir(void);

#endif
