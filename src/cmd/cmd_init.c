/* PLACEHOLDER */
#include "cmd/cmd.h"
const char cmd_init_usage[] = "usage: apflow init\n";
int cmd_init(int argc, char **argv, struct apf_ctx *ctx) { (void)argc; (void)argv; (void)ctx; return 1; }
