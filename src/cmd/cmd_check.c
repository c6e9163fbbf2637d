/* cmd_check.c: placeholder */
#include "cmd/cmd.h"
const char cmd_check_usage[] = "usage: apflow check\n";
int cmd_check(int argc, char **argv, struct apf_ctx *ctx)
{
	(void)argc; (void)argv; (void)ctx;
	return 1;
}
