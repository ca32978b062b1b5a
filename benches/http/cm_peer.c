/* cm-smartcard doing the same job. Usage: cm_peer URL N session|oneshot [CAFILE] */
#include "cm_smartcard.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  long n = atol(argv[2]);
  int session = strcmp(argv[3], "session") == 0;
  cm_connection c;
  memset(&c, 0, sizeof c);
  c.struct_size = (uint32_t)sizeof c;
  c.server_url = argv[1];
  c.auth_method = CM_AUTH_NONE;
  c.proxy_mode = CM_PROXY_NONE;
  c.extra_ca_file = argc > 4 ? argv[4] : NULL;
  cm_assignment a;
  memset(&a, 0, sizeof a);
  a.struct_size = (uint32_t)sizeof a;
  a.request_id = "a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099";
  a.card_id = "bc88f13f-83ba-4037-8262-46eba1291c6e";
  a.atr = "3b8d0180fba000000397425446590301c8";
  cm_session *s = NULL;
  if (session && cm_session_new(&c, &s) != CM_STATUS_OK) return 1;
  for (long i = 0; i < n; i++) {
    cm_status rc = session ? cm_session_assign_smartcard(s, &a, NULL) : cm_assign_smartcard(&c, &a, NULL);
    if (rc != CM_STATUS_OK) {
      char msg[1024];
      size_t len;
      cm_last_error_message(msg, sizeof msg, &len);
      fprintf(stderr, "call %ld: %d %s\n", i, rc, msg);
      return 1;
    }
  }
  cm_session_free(s);
  return 0;
}
