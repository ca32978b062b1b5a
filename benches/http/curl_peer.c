/* The peer users would otherwise pick: libcurl POSTing the assignment body, like cm_assign_smartcard.
 * Usage: curl_peer URL N reuse|new [CAFILE]
 *   reuse: one easy handle for all calls (keep-alive, TLS session kept); new: a fresh handle per call. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t sink(char *p, size_t s, size_t n, void *u) {
  (void)p;
  (void)u;
  return s * n;
}

static void setup(CURL *h, const char *url, const char *ca, struct curl_slist *hdr, const char *body) {
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (ca) curl_easy_setopt(h, CURLOPT_CAINFO, ca);
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  const char *url = argv[1], *ca = argc > 4 ? argv[4] : NULL;
  long n = atol(argv[2]);
  int reuse = strcmp(argv[3], "reuse") == 0;
  const char *body = "{\"requestid\":\"a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099\",\"cardid\":\"bc88f13f-83ba-4037-8262-46eba1291c6e\",\"atr\":\"3b8d0180fba000000397425446590301c8\"}";
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
  hdr = curl_slist_append(hdr, "Accept: application/json");
  CURL *h = reuse ? curl_easy_init() : NULL;
  if (h) setup(h, url, ca, hdr, body);
  for (long i = 0; i < n; i++) {
    if (!reuse) {
      h = curl_easy_init();
      setup(h, url, ca, hdr, body);
    }
    long code = 0;
    if (curl_easy_perform(h) != CURLE_OK) return 1;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 201) return 1;
    if (!reuse) curl_easy_cleanup(h);
  }
  if (reuse) curl_easy_cleanup(h);
  curl_slist_free_all(hdr);
  curl_global_cleanup();
  return 0;
}
