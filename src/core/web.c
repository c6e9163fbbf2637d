/* web.c: the pages of web/ among the compiled-in files. */
#include "apflow/web.h"
#include "apflow/banned.h" /* last: after every system header */

const struct apf_asset *apf_web_find(const char *name)
{
	return apf_asset_in("web/", name);
}
