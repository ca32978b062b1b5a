/* Many threads reading the same card at once through the C exports (issue 9, defect 1: libpcsclite 1.9.9
 * crashed in SCardDisconnect under concurrent connect/disconnect). Run as a child process so that a crash
 * is reported by the parent instead of taking the test runner down.
 * Usage: stress_c_card READER EMPTY_READER THREADS CALLS EXPECTED_ATR EXPECTED_CARD_ID
 * Each thread does CALLS rounds of cm_read_card_atr and cm_list_readers, and cm_read_card_id every 4th
 * round (card-id reads take a transaction and would otherwise slow everyone down); a third of the threads
 * name the reader, a third pass "" and a third NULL (both: the first reader holding a card). Two more
 * threads keep waiting (10 ms timeouts) on EMPTY_READER meanwhile: waits block outside the library's lock.
 * Prints "ok N calls" and exits 0 when every call succeeded with the expected values. */
#define _POSIX_C_SOURCE 200809L
#include "cm_smartcard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *reader, *empty_reader, *want_atr, *want_card_id;
static int calls;

struct result {
  long ok, bad;
  char first_error[512];
};
static struct result results[256];

static void record_failure(struct result *r, const char *what, cm_status rc) {
  r->bad++;
  if (r->first_error[0] == 0) {
    char msg[400];
    size_t len = 0;
    if (cm_last_error_message(msg, sizeof msg, &len) != CM_STATUS_OK) strcpy(msg, "<none>");
    snprintf(r->first_error, sizeof r->first_error, "%s: status %d: %s", what, (int)rc, msg);
  }
}

static void *worker(void *arg) {
  struct result *r = arg;
  /* Named reader, "" and NULL (both: the first reader holding a card). */
  const char *names[3] = {reader, "", NULL};
  const char *name = names[(r - results) % 3];
  for (int i = 0; i < calls; i++) {
    char buf[CM_ATR_BUFFER_SIZE];
    size_t len = 0;
    cm_status rc = cm_read_card_atr(name, buf, sizeof buf, &len);
    if (rc == CM_STATUS_OK && strcmp(buf, want_atr) == 0) r->ok++; else record_failure(r, "cm_read_card_atr", rc);

    cm_reader_list *list = NULL;
    rc = cm_list_readers(&list);
    if (rc == CM_STATUS_OK && cm_reader_list_count(list) >= 1) r->ok++; else record_failure(r, "cm_list_readers", rc);
    cm_reader_list_free(list);

    if (i % 4 != 0) continue;
    char id[CM_UUID_BUFFER_SIZE];
    rc = cm_read_card_id(name, CM_GUID_ORDER_WINDOWS, id, sizeof id, &len);
    if (rc == CM_STATUS_OK && strcmp(id, want_card_id) == 0) r->ok++; else record_failure(r, "cm_read_card_id", rc);
  }
  return NULL;
}

static atomic_int workers_done;

static void *waiter(void *arg) {
  struct result *r = arg;
  int rounds = 0;
  while (!workers_done || rounds < 3) {
    char name[256];
    size_t len = 0;
    cm_status rc = cm_wait_for_card(empty_reader, 10, name, sizeof name, &len);
    if (rc == CM_STATUS_PCSC_TIMEOUT) r->ok++; else record_failure(r, "cm_wait_for_card", rc);
    rounds++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s READER EMPTY_READER THREADS CALLS ATR CARD_ID\n", argv[0]);
    return 2;
  }
  reader = argv[1];
  empty_reader = argv[2];
  int threads = atoi(argv[3]);
  calls = atoi(argv[4]);
  want_atr = argv[5];
  want_card_id = argv[6];
  if (threads < 1 || threads > 250 || calls < 1) return 2;
  pthread_t ids[256], waiters[2];
  for (int w = 0; w < 2; w++) {
    if (pthread_create(&waiters[w], NULL, waiter, &results[250 + w]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 2;
    }
  }
  for (int t = 0; t < threads; t++) {
    if (pthread_create(&ids[t], NULL, worker, &results[t]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 2;
    }
  }
  long ok = 0, bad = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(ids[t], NULL);
    ok += results[t].ok;
    bad += results[t].bad;
    if (results[t].first_error[0]) printf("thread %d: %s\n", t, results[t].first_error);
  }
  workers_done = 1;
  for (int w = 0; w < 2; w++) {
    pthread_join(waiters[w], NULL);
    ok += results[250 + w].ok;
    bad += results[250 + w].bad;
    if (results[250 + w].first_error[0]) printf("waiter %d: %s\n", w, results[250 + w].first_error);
  }
  printf("ok %ld calls, %ld failed\n", ok, bad);
  return bad == 0 ? 0 : 1;
}
