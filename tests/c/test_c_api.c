/* The C API from C: assign, reconcile, look up, and every error path a C caller meets.
 * Usage: test_c_api OK_URL DISABLED_URL ERROR500_URL UNKNOWN_URL REQUEST_A REQUEST_B REQUEST_C CORRELATION_ID
 *   OK_URL        emulator with approved requests REQUEST_A and REQUEST_B
 *   DISABLED_URL  emulator with the API disabled (404 everywhere)
 *   ERROR500_URL  emulator answering every POST with 500 + CORRELATION_ID
 *   UNKNOWN_URL   emulator that reads the POST, binds, and closes without answering; REQUEST_C approved there
 * Prints one line per check and "N passed, M failed". */
#include "cm_smartcard.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>



static const char *ATR = "3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 03 01 C8";


static cm_connection connection(const char *url) {
  cm_connection c;
  memset(&c, 0, sizeof c);
  c.struct_size = (uint32_t)sizeof c;
  c.server_url = url;
  c.auth_method = CM_AUTH_NONE;
  c.timeout_ms = 3000;
  return c;
}

static cm_assignment assignment(const char *request_id, const char *card_id, const char *atr) {
  cm_assignment a;
  memset(&a, 0, sizeof a);
  a.struct_size = (uint32_t)sizeof a;
  a.request_id = request_id;
  a.card_id = card_id;
  a.atr = atr;
  return a;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s OK_URL DISABLED_URL ERROR500_URL UNKNOWN_URL REQ_A REQ_B REQ_C CORRELATION_ID\n", argv[0]);
    return 2;
  }
  const char *ok_url = argv[1], *disabled_url = argv[2], *error_url = argv[3], *unknown_url = argv[4];
  const char *req_a = argv[5], *req_b = argv[6], *req_c = argv[7], *correlation = argv[8];
  const char *card_a = "{BC88F13F-83BA-4037-8262-46EBA1291C6E}"; /* braces + upper case on purpose */
  const char *card_c = "d1ef6869-2f3a-4bde-9b57-1e0b3c7a9f10";

  /* Versions. */
  CHECK(strcmp(cm_version(), CM_SMARTCARD_VERSION) == 0, "cm_version %s != header %s", cm_version(), CM_SMARTCARD_VERSION);
  CHECK(cm_abi_version() == CM_ABI_VERSION, "abi version");
  CHECK(strcmp(cm_status_str(CM_STATUS_OK), "success") == 0, "status str ok");
  CHECK(strcmp(cm_status_str(12345), "unknown status code") == 0, "status str unknown");

  cm_connection ok = connection(ok_url);

  /* The happy path. */
  cm_assignment a = assignment(req_a, card_a, ATR);
  cm_assign_result *result = NULL;
  cm_status rc = cm_assign_smartcard(&ok, &a, &result);
  CHECK(rc == CM_STATUS_OK && result != NULL, "assign: %d %s", rc, last_message());
  CHECK(cm_last_error_status() == CM_STATUS_OK, "success clears the last error");
  CHECK(cm_assign_result_http_status(result) == 201, "http 201");
  char uuid[CM_UUID_BUFFER_SIZE];
  size_t len = 0;
  /* Size query: NULL buffer gives the length. */
  rc = cm_assign_result_smartcard_uri(result, NULL, 0, &len);
  CHECK(rc == CM_STATUS_BUFFER_TOO_SMALL && len == strlen("api/v1.0/smartcards/") + 36, "uri size query: %d %zu", rc, len);
  char *uri = malloc(len + 1);
  rc = cm_assign_result_smartcard_uri(result, uri, len + 1, &len);
  CHECK(rc == CM_STATUS_OK && strncmp(uri, "api/v1.0/smartcards/", 20) == 0, "uri: %s", uri);
  /* A buffer one byte short is refused and left untouched. */
  char small[CM_UUID_BUFFER_SIZE - 1];
  memset(small, 'x', sizeof small);
  rc = cm_assign_result_smartcard_uuid(result, small, sizeof small, &len);
  CHECK(rc == CM_STATUS_BUFFER_TOO_SMALL && len == 36 && small[0] == 'x', "small buffer: %d %zu", rc, len);
  CHECK(cm_last_error_status() == CM_STATUS_BUFFER_TOO_SMALL, "last error records the small buffer");
  rc = cm_assign_result_smartcard_uuid(result, uuid, sizeof uuid, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(uuid, uri + 20) == 0, "uuid %s matches uri %s", uuid, uri);
  free(uri);
  cm_assign_result_free(result);
  cm_assign_result_free(NULL); /* NULL-safe */

  /* The server's view agrees: lookup by card id, reconcile. */
  cm_smartcard *sc = NULL;
  rc = cm_find_smartcard(&ok, "bc88f13f83ba4037826246eba1291c6e", &sc);
  CHECK(rc == CM_STATUS_OK && sc != NULL, "find: %d %s", rc, last_message());
  char serial[64];
  rc = cm_smartcard_serial_number(sc, serial, sizeof serial, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(serial, "{bc88f13f-83ba-4037-8262-46eba1291c6e}") == 0, "serial %s", serial);
  char atr[CM_ATR_BUFFER_SIZE];
  rc = cm_smartcard_atr(sc, atr, sizeof atr, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(atr, "3b8d0180fba000000397425446590301c8") == 0, "atr normalized: %s", atr);
  char sc_uuid[CM_UUID_BUFFER_SIZE];
  CHECK(cm_smartcard_uuid(sc, sc_uuid, sizeof sc_uuid, &len) == CM_STATUS_OK && strcmp(sc_uuid, uuid) == 0, "sc uuid");
  CHECK(cm_smartcard_status(sc) == 2, "smartcard status %d", cm_smartcard_status(sc));
  cm_smartcard_free(sc);
  int32_t state = -1;
  char bound[CM_UUID_BUFFER_SIZE];
  rc = cm_reconcile_assignment(&ok, &a, &state, bound, sizeof bound, &len);
  CHECK(rc == CM_STATUS_OK && state == CM_BINDING_BOUND_TO_THIS_CARD && strcmp(bound, uuid) == 0, "reconcile: %d %d", rc, state);
  cm_request *req = NULL;
  rc = cm_get_request(&ok, req_a, &req);
  CHECK(rc == CM_STATUS_OK && req != NULL && cm_request_status(req) == 3, "get request: %d", rc);
  CHECK(cm_request_new_smartcard_uuid(req, bound, sizeof bound, &len) == CM_STATUS_OK && strcmp(bound, uuid) == 0, "NewSmartcardUuid");
  cm_request_free(req);
  rc = cm_find_smartcard(&ok, "00000000-0000-0000-0000-00000000abcd", &sc);
  CHECK(rc == CM_STATUS_OK && sc == NULL, "unknown card: NULL result");

  /* 403: the same card again. */
  rc = cm_assign_smartcard(&ok, &a, &result);
  CHECK(rc == CM_STATUS_HTTP_FORBIDDEN && result == NULL, "403: %d", rc);
  CHECK(cm_last_error_http_status() == 403, "403 http status %d", cm_last_error_http_status());
  CHECK(strstr(last_message(), "Approved or Executing") != NULL, "403 advice: %s", last_message());
  char server_msg[1024];
  CHECK(cm_last_error_server_message(server_msg, sizeof server_msg, &len) == CM_STATUS_OK && len > 0, "403 server message");

  /* Bad input: NULLs, struct size, GUIDs, ATRs, UTF-8, URLs. */
  CHECK(cm_assign_smartcard(NULL, &a, &result) == CM_STATUS_NULL_ARGUMENT, "NULL connection");
  CHECK(strstr(last_message(), "connection") != NULL, "NULL names the argument: %s", last_message());
  CHECK(cm_assign_smartcard(&ok, NULL, &result) == CM_STATUS_NULL_ARGUMENT, "NULL assignment");
  cm_assignment b = assignment(NULL, card_a, ATR);
  CHECK(cm_assign_smartcard(&ok, &b, &result) == CM_STATUS_NULL_ARGUMENT, "NULL request id");
  b = assignment("not-a-guid", card_a, ATR);
  CHECK(cm_assign_smartcard(&ok, &b, &result) == CM_STATUS_INVALID_GUID, "bad request GUID");
  b = assignment(req_b, "bc88f13f-83ba-4037-8262", ATR);
  CHECK(cm_assign_smartcard(&ok, &b, &result) == CM_STATUS_INVALID_GUID, "bad card GUID");
  b = assignment(req_b, card_c, "3b8d0180fba000000397425446590301c9");
  CHECK(cm_assign_smartcard(&ok, &b, &result) == CM_STATUS_INVALID_ATR, "bad TCK");
  CHECK(strstr(last_message(), "TCK") != NULL, "TCK named: %s", last_message());
  b = assignment(req_b, card_c, "zz");
  CHECK(cm_assign_smartcard(&ok, &b, &result) == CM_STATUS_INVALID_ATR, "non-hex ATR");
  b = assignment("\xff\xfe", card_c, ATR);
  CHECK(cm_assign_smartcard(&ok, &b, &result) == CM_STATUS_INVALID_UTF8, "non-UTF-8");
  cm_assignment zero_size = assignment(req_b, card_c, ATR);
  zero_size.struct_size = 0;
  CHECK(cm_assign_smartcard(&ok, &zero_size, &result) == CM_STATUS_INVALID_STRUCT_SIZE, "struct_size 0");
  cm_connection bad_url = connection("cm.contoso.com");
  CHECK(cm_assign_smartcard(&bad_url, &a, &result) == CM_STATUS_INVALID_URL, "URL without scheme");
  cm_connection bad_auth = connection(ok_url);
  bad_auth.auth_method = 99;
  CHECK(cm_assign_smartcard(&bad_auth, &a, &result) == CM_STATUS_INVALID_ARGUMENT, "bad auth method");
  CHECK(cm_reconcile_assignment(&ok, &a, NULL, NULL, 0, NULL) == CM_STATUS_NULL_ARGUMENT, "reconcile NULL state");
  CHECK(cm_find_smartcard(&ok, card_a, NULL) == CM_STATUS_NULL_ARGUMENT, "find NULL out");
  CHECK(cm_get_smartcard(&ok, "not-a-guid", &sc) == CM_STATUS_INVALID_GUID && sc == NULL, "get smartcard bad GUID");
  CHECK(cm_get_request(&ok, NULL, &req) == CM_STATUS_NULL_ARGUMENT && req == NULL, "get request NULL id");
  CHECK(cm_smartcard_json(NULL, server_msg, sizeof server_msg, &len) == CM_STATUS_NULL_ARGUMENT, "json of NULL");
  CHECK(cm_last_error_message(NULL, 0, NULL) == CM_STATUS_NULL_ARGUMENT, "message NULL len_out");
  CHECK(cm_last_error_status() == CM_STATUS_NULL_ARGUMENT, "reading the last error does not change it");
  CHECK(cm_assign_result_smartcard_uri(NULL, uuid, sizeof uuid, &len) == CM_STATUS_NULL_ARGUMENT, "accessor NULL");
  CHECK(cm_assign_result_http_status(NULL) == 0, "http status of NULL");
  /* Nothing invalid was sent: REQUEST_B is still unbound. */
  b = assignment(req_b, card_c, NULL);
  rc = cm_reconcile_assignment(&ok, &b, &state, NULL, 0, NULL);
  CHECK(rc == CM_STATUS_OK && state == CM_BINDING_NOT_BOUND, "invalid input never reached the server: %d %d", rc, state);

  /* The success body-less success: ATR omitted, 201 still. */
  rc = cm_assign_smartcard(&ok, &b, NULL);
  CHECK(rc == CM_STATUS_OK, "assign without ATR and without result: %d %s", rc, last_message());

  /* 404: API disabled. */
  cm_connection disabled = connection(disabled_url);
  a = assignment(req_a, card_c, ATR);
  rc = cm_assign_smartcard(&disabled, &a, &result);
  CHECK(rc == CM_STATUS_HTTP_NOT_FOUND && cm_last_error_http_status() == 404, "404: %d", rc);
  CHECK(strstr(last_message(), "Clm.WebApi.Enabled") != NULL, "404 names the setting: %s", last_message());

  /* 500 with a correlation id. */
  cm_connection error500 = connection(error_url);
  rc = cm_assign_smartcard(&error500, &a, &result);
  CHECK(rc == CM_STATUS_HTTP_SERVER_ERROR && cm_last_error_http_status() == 500, "500: %d", rc);
  char corr[CM_UUID_BUFFER_SIZE];
  rc = cm_last_error_correlation_id(corr, sizeof corr, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(corr, correlation) == 0, "correlation id %s", corr);

  /* Outcome unknown, then reconcile says it was bound. */
  cm_connection unknown = connection(unknown_url);
  cm_assignment c = assignment(req_c, card_c, ATR);
  rc = cm_assign_smartcard(&unknown, &c, &result);
  CHECK(rc == CM_STATUS_OUTCOME_UNKNOWN && result == NULL, "outcome unknown: %d %s", rc, last_message());
  CHECK(strstr(last_message(), "NOT retried") != NULL, "says it was not retried");
  rc = cm_reconcile_assignment(&unknown, &c, &state, bound, sizeof bound, &len);
  CHECK(rc == CM_STATUS_OK && state == CM_BINDING_BOUND_TO_THIS_CARD && len == 36, "reconcile after unknown: %d %d", rc, state);

  /* Server down. */
  cm_connection down = connection("http://127.0.0.1:1");
  rc = cm_assign_smartcard(&down, &c, &result);
  CHECK(rc == CM_STATUS_CONNECT_FAILED, "connect failed: %d %s", rc, last_message());

  return check_summary();
}
