// Non-variadic wrappers around libcurl's variadic setopt/getinfo (Swift cannot call C variadics;
// reference/swift-notes.md "libcurl from Swift").
#ifndef TTN_MIGRATE_CCURL_SHIM_H
#define TTN_MIGRATE_CCURL_SHIM_H
#include <curl/curl.h>

typedef size_t (*ttnm_curl_write_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);

static inline CURLcode ttnm_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_setopt_write_cb(CURL *h, CURLoption o, ttnm_curl_write_cb v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ttnm_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ttnm_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode ttnm_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLcode ttnm_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
#endif
