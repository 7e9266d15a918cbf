#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "report_json.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command commands[] = {
    {"migrate", cmd_migrate, "create or upgrade the database schema and load org units"},
    {"validate", cmd_validate, "check report files (JSON, JSONL, CSV, XLSX) without sending them"},
    {"submit", cmd_submit, "send report files to a county's collector"},
    {"template", cmd_template, "write the report template (.xlsx) an office fills in"},
    {"keygen", cmd_keygen, "write a CURVE key pair for a collector or the aggregator"},
    {"loadgen", cmd_loadgen,
     "send realistic reports to collectors; 'loadgen verify' checks totals"},
    {"office", cmd_office, "'office add': an office credential bound to an org unit and a role"},
    {"approve", cmd_approve, "submit, approve or accept a period at the aggregator"},
    {"unlock", cmd_unlock, "reopen a locked period (a lock exception) with a reason"},
};

static void usage(FILE *out) {
    fprintf(out, "pufa %s - the pufa legal-education reporting pipeline tool\n\n", PUFA_VERSION);
    fprintf(out, "Usage: pufa COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'pufa COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv) {
    pufa_json_init();
    if (argc < 2) {
        usage(stderr);
        return EX_USAGE_;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("pufa %s\n", PUFA_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "pufa: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EX_USAGE_;
}
