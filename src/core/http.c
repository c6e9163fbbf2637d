/* PLACEHOLDER: replaced by the store helper */
#include <curl/curl.h>
#include "apflow/version.h"
const char *apf_http_library_version(void) { return curl_version_info(CURLVERSION_NOW)->version; }
