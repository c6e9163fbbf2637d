/* cmd_learn.c: placeholder */
#include "cmd/cmd.h"
const char cmd_learn_usage[] = "usage: apflow learn\n";
int cmd_learn(int argc, char **argv, struct apf_ctx *ctx)
{
	(void)argc; (void)argv; (void)ctx;
	return 1;
}
