/* PLACEHOLDER: replaced by the db helper */
#include <duckdb.h>
#include "apflow/db.h"
const char *apf_db_library_version(void) { return duckdb_library_version(); }
