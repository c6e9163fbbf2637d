/* PLACEHOLDER */
#include "cmd/cmd.h"
const char cmd_sql_usage[] = "usage: apflow sql\n";
int cmd_sql(int argc, char **argv, struct apf_ctx *ctx) { (void)argc; (void)argv; (void)ctx; return 1; }
