/* PLACEHOLDER */
#include "cmd/cmd.h"
const char cmd_store_usage[] = "usage: apflow store\n";
int cmd_store(int argc, char **argv, struct apf_ctx *ctx) { (void)argc; (void)argv; (void)ctx; return 1; }
