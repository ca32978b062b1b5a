/* cm_session from C: creation and its bad inputs, every session call, one session shared by threads, and
 * at-most-once on pooled connections that the server closes while idle.
 * Usage: test_c_session URL IDLE_CLOSING_URL REQUEST_PREFIX N
 *   URL               emulator with approved requests REQUEST_PREFIX + 000000000000 .. N-1 (12 decimal digits)
 *   IDLE_CLOSING_URL  emulator that closes idle keep-alive connections at random moments, same requests
 * Prints one line per failed check and "N passed, M failed". */
#include "cm_smartcard.h"
#include "check.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>




static cm_connection connection(const char *url) {
  cm_connection c;
  memset(&c, 0, sizeof c);
  c.struct_size = (uint32_t)sizeof c;
  c.server_url = url;
  c.auth_method = CM_AUTH_NONE;
  c.timeout_ms = 5000;
  return c;
}

static const char *prefix;
static char *request_id(int i) {
  char *s = malloc(40);
  snprintf(s, 40, "%s%012d", prefix, i);
  return s;
}
static char *card_id(int i) {
  char *s = malloc(40);
  snprintf(s, 40, "c0ffee00-0000-4000-8000-%012d", i);
  return s;
}

struct job {
  cm_session *session;
  int first, count;
};

/* Binds cards first..first+count-1 and reads each back, all on the shared session. */
static void *bind_range(void *arg) {
  struct job *job = arg;
  for (int i = job->first; i < job->first + job->count; i++) {
    char *rid = request_id(i), *cid = card_id(i);
    cm_assignment a;
    memset(&a, 0, sizeof a);
    a.struct_size = (uint32_t)sizeof a;
    a.request_id = rid;
    a.card_id = cid;
    a.atr = "3b8d0180fba000000397425446590301c8";
    cm_assign_result *r = NULL;
    cm_status rc = cm_session_assign_smartcard(job->session, &a, &r);
    CHECK(rc == CM_STATUS_OK && r != NULL && cm_assign_result_http_status(r) == 201, "assign %d: %d %s", i, rc,
          last_message());
    cm_assign_result_free(r);
    int32_t state = -1;
    char uuid[CM_UUID_BUFFER_SIZE];
    size_t len = 0;
    rc = cm_session_reconcile_assignment(job->session, &a, &state, uuid, sizeof uuid, &len);
    CHECK(rc == CM_STATUS_OK && state == CM_BINDING_BOUND_TO_THIS_CARD && len == 36, "reconcile %d: %d %d %s", i, rc,
          state, last_message());
    cm_smartcard *sc = NULL;
    rc = cm_session_find_smartcard(job->session, cid, &sc);
    CHECK(rc == CM_STATUS_OK && sc != NULL, "find %d: %d %s", i, rc, last_message());
    cm_smartcard_free(sc);
    free(rid);
    free(cid);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s URL IDLE_CLOSING_URL REQUEST_PREFIX N\n", argv[0]);
    return 2;
  }
  const char *url = argv[1], *closing_url = argv[2];
  prefix = argv[3];
  int n = atoi(argv[4]);
  cm_connection conn = connection(url);
  cm_session *s = NULL;

  /* Bad inputs: a clear status, and *session_out is NULL. */
  cm_session *bogus = (cm_session *)&conn;
  CHECK(cm_session_new(NULL, &s) == CM_STATUS_NULL_ARGUMENT && s == NULL, "NULL connection");
  CHECK(cm_session_new(&conn, NULL) == CM_STATUS_NULL_ARGUMENT, "NULL session_out");
  cm_connection bad = conn;
  bad.struct_size = 4;
  s = bogus;
  CHECK(cm_session_new(&bad, &s) == CM_STATUS_INVALID_STRUCT_SIZE && s == NULL, "struct_size 4");
  bad = conn;
  bad.struct_size = (uint32_t)(offsetof(cm_connection, proxy_url) + sizeof(void *) / 2); /* ends inside a pointer */
  s = bogus;
  CHECK(cm_session_new(&bad, &s) == CM_STATUS_INVALID_STRUCT_SIZE && s == NULL, "torn struct_size: %s", last_message());
  CHECK(cm_assign_smartcard(&bad, NULL, NULL) == CM_STATUS_INVALID_STRUCT_SIZE, "torn struct_size, one-shot");
  bad = conn;
  bad.server_url = "ftp://cm";
  CHECK(cm_session_new(&bad, &s) == CM_STATUS_INVALID_URL && s == NULL, "ftp URL: %s", last_message());
  bad = conn;
  bad.proxy_mode = 9;
  CHECK(cm_session_new(&bad, &s) == CM_STATUS_INVALID_ARGUMENT, "proxy_mode 9");
  bad = conn;
  bad.proxy_mode = CM_PROXY_EXPLICIT;
  CHECK(cm_session_new(&bad, &s) == CM_STATUS_INVALID_ARGUMENT && strstr(last_message(), "proxy_url"), "explicit proxy without URL");
  bad.proxy_url = "socks5://p:1080";
  CHECK(cm_session_new(&bad, &s) == CM_STATUS_INVALID_URL, "socks proxy: %s", last_message());
  bad = conn;
  bad.auth_flags = 0x80;
  CHECK(cm_session_new(&bad, &s) == CM_STATUS_INVALID_ARGUMENT, "unknown auth flag");
  bad = conn;
  bad.auth_method = CM_AUTH_BASIC;
  CHECK(cm_session_new(&bad, &s) == CM_STATUS_INVALID_ARGUMENT && strstr(last_message(), "username"), "Basic without user");
  char not_utf8[] = {'h', 't', 't', 'p', ':', '/', '/', (char)0xff, 0};
  bad = conn;
  bad.server_url = not_utf8;
  CHECK(cm_session_new(&bad, &s) == CM_STATUS_INVALID_UTF8, "non-UTF-8 URL");
  cm_session_free(NULL);

  /* A caller compiled against the first cm_connection (without the proxy and session fields) still works. */
  cm_connection old = conn;
  old.struct_size = (uint32_t)offsetof(cm_connection, proxy_mode);
  CHECK(cm_session_new(&old, &s) == CM_STATUS_OK && s != NULL, "ABI-1 struct: %s", last_message());
  cm_session_free(s);
  s = NULL;

  /* NULL session in every call. */
  cm_assign_result *r = NULL;
  cm_smartcard *sc = NULL;
  cm_request *req = NULL;
  int32_t state = 0;
  CHECK(cm_session_assign_smartcard(NULL, NULL, &r) == CM_STATUS_NULL_ARGUMENT && r == NULL, "assign NULL");
  CHECK(cm_session_find_smartcard(NULL, "x", &sc) == CM_STATUS_NULL_ARGUMENT, "find NULL");
  CHECK(cm_session_get_smartcard(NULL, "x", &sc) == CM_STATUS_NULL_ARGUMENT, "get NULL");
  CHECK(cm_session_get_request(NULL, "x", &req) == CM_STATUS_NULL_ARGUMENT, "request NULL");
  CHECK(cm_session_reconcile_assignment(NULL, NULL, &state, NULL, 0, NULL) == CM_STATUS_NULL_ARGUMENT, "reconcile NULL");
  CHECK(cm_session_assign_smartcard_from_reader(NULL, "x", NULL, 0, &r) == CM_STATUS_NULL_ARGUMENT, "from reader NULL");

  /* The session's calls. */
  CHECK(cm_session_new(&conn, &s) == CM_STATUS_OK && s != NULL, "session: %s", last_message());
  CHECK(cm_session_get_request(s, "not-a-guid", &req) == CM_STATUS_INVALID_GUID && req == NULL, "bad GUID");
  CHECK(cm_session_find_smartcard(s, NULL, &sc) == CM_STATUS_NULL_ARGUMENT, "NULL card id");
  CHECK(cm_session_assign_smartcard_from_reader(s, "x", NULL, 7, &r) == CM_STATUS_INVALID_ARGUMENT, "byte order 7");
  char *rid0 = request_id(0);
  CHECK(cm_session_get_request(s, rid0, &req) == CM_STATUS_OK && req != NULL && cm_request_status(req) == 3,
        "get request: %s", last_message());
  cm_request_free(req);
  free(rid0);
  struct job first = {s, 0, n / 4};
  bind_range(&first);
  /* Four threads on one session. */
  pthread_t threads[4];
  struct job jobs[4];
  int per = n / 4 / 4;
  for (int t = 0; t < 4; t++) {
    jobs[t].session = s;
    jobs[t].first = n / 4 + t * per;
    jobs[t].count = per;
    pthread_create(&threads[t], NULL, bind_range, &jobs[t]);
  }
  for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
  cm_session_free(s);

  /* The same against a server that closes idle connections at random moments: no outcome unknown. */
  cm_connection closing = connection(closing_url);
  CHECK(cm_session_new(&closing, &s) == CM_STATUS_OK, "closing session");
  struct job rest = {s, n / 2, n - n / 2};
  bind_range(&rest);
  cm_session_free(s);

  return check_summary();
}
