/* The pufa command-line tool: one binary, one subcommand per file. */
#ifndef PUFA_CLI_H
#define PUFA_CLI_H

/* sysexits codes */
enum {
    EX_OK_ = 0,
    EX_USAGE_ = 64,
    EX_DATAERR_ = 65,
    EX_UNAVAILABLE_ = 69,
    EX_SOFTWARE_ = 70,
    EX_CANTCREAT_ = 73,
    EX_IOERR_ = 74,
    EX_TEMPFAIL_ = 75,
    EX_CONFIG_ = 78
};

int cmd_migrate(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_loadgen(int argc, char **argv);
int cmd_office(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_unlock(int argc, char **argv);

#endif
