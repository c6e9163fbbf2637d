/* cmd_panels.c: placeholder */
#include "cmd/cmd.h"
const char cmd_panels_usage[] = "usage: apflow panels\n";
int cmd_panels(int argc, char **argv, struct apf_ctx *ctx)
{
	(void)argc; (void)argv; (void)ctx;
	return 1;
}
