/* The card exports from C against the real PC/SC rig (pcscd + vpcd + virtual GIDS card) and the emulator.
 * Usage: test_c_card SERVER_URL REQUEST_ID READER0 READER1(empty) EXPECTED_ATR EXPECTED_CARD_ID
 * Prints one line per failed check and "N passed, M failed". */
#define _POSIX_C_SOURCE 200809L
#include "cm_smartcard.h"
#include "check.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


/* CALLS ATR reads of reader; returns how many failed or gave another ATR. */
static int read_atrs(const char *reader, const char *want_atr, int calls) {
  int bad = 0;
  for (int i = 0; i < calls; i++) {
    char buf[CM_ATR_BUFFER_SIZE];
    size_t len = 0;
    if (cm_read_card_atr(reader, buf, sizeof buf, &len) != CM_STATUS_OK || strcmp(buf, want_atr) != 0) bad++;
  }
  return bad;
}


int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s URL REQUEST READER0 EMPTY_READER ATR CARD_ID\n", argv[0]);
    return 2;
  }
  const char *url = argv[1], *request = argv[2], *reader0 = argv[3], *empty = argv[4];
  const char *want_atr = argv[5], *want_card_id = argv[6];
  char buf[CM_ATR_BUFFER_SIZE];
  size_t len = 0;

  /* ATR: named reader, and "first reader with a card". */
  cm_status rc = cm_read_card_atr(reader0, buf, sizeof buf, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(buf, want_atr) == 0, "atr: %d %s %s", rc, buf, last_message());
  rc = cm_read_card_atr(NULL, buf, sizeof buf, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(buf, want_atr) == 0, "atr of first reader: %d", rc);
  /* "" = NULL = the first reader holding a card, in every card function (.NET/PowerShell pass ""). */
  rc = cm_read_card_atr("", buf, sizeof buf, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(buf, want_atr) == 0, "atr of \"\": %d %s", rc, last_message());
  rc = cm_read_card_atr(reader0, buf, 10, &len);
  CHECK(rc == CM_STATUS_BUFFER_TOO_SMALL && len == strlen(want_atr), "small ATR buffer: %d %zu", rc, len);
  CHECK(cm_read_card_atr(reader0, buf, sizeof buf, NULL) == CM_STATUS_NULL_ARGUMENT, "NULL len_out");
  rc = cm_read_card_atr(empty, buf, sizeof buf, &len);
  CHECK(rc == CM_STATUS_PCSC_NO_CARD, "empty reader: %d %s", rc, last_message());
  CHECK(strstr(last_message(), "Insert") != NULL || strstr(last_message(), "insert") != NULL, "tells to insert: %s", last_message());
  rc = cm_read_card_atr("No Such Reader 99", buf, sizeof buf, &len);
  CHECK(rc == CM_STATUS_PCSC_UNKNOWN_READER, "unknown reader: %d", rc);
  CHECK(cm_last_error_pcsc_code() == 0x80100009u, "raw SCARD code kept: %x", cm_last_error_pcsc_code());

  /* Card ID in both byte orders. */
  char id[CM_UUID_BUFFER_SIZE];
  rc = cm_read_card_id(reader0, CM_GUID_ORDER_WINDOWS, id, sizeof id, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(id, want_card_id) == 0, "card id: %d %s %s", rc, id, last_message());
  char rfc[CM_UUID_BUFFER_SIZE];
  rc = cm_read_card_id(reader0, CM_GUID_ORDER_RFC4122, rfc, sizeof rfc, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(rfc, id) != 0 && strcmp(rfc + 19, id + 19) == 0, "rfc order differs in the first 3 fields: %s", rfc);
  CHECK(cm_read_card_id(reader0, 7, id, sizeof id, &len) == CM_STATUS_INVALID_ARGUMENT, "bad byte order");
  char first_id[CM_UUID_BUFFER_SIZE];
  rc = cm_read_card_id("", CM_GUID_ORDER_WINDOWS, first_id, sizeof first_id, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(first_id, want_card_id) == 0, "card id of \"\": %d %s", rc, last_message());
  rc = cm_read_card_id(NULL, CM_GUID_ORDER_WINDOWS, first_id, sizeof first_id, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(first_id, want_card_id) == 0, "card id of NULL: %d %s", rc, last_message());

  /* Reader list. */
  cm_reader_list *list = NULL;
  rc = cm_list_readers(&list);
  CHECK(rc == CM_STATUS_OK && cm_reader_list_count(list) >= 2, "list: %d %u", rc, cm_reader_list_count(list));
  int found = 0;
  for (uint32_t i = 0; i < cm_reader_list_count(list); i++) {
    char name[256];
    if (cm_reader_list_name(list, i, name, sizeof name, &len) != CM_STATUS_OK) continue;
    if (strcmp(name, reader0) == 0) {
      found = 1;
      CHECK(cm_reader_list_card_present(list, i) == 1, "card present in reader0");
      CHECK(cm_reader_list_atr(list, i, buf, sizeof buf, &len) == CM_STATUS_OK && strcmp(buf, want_atr) == 0, "listed ATR");
    }
    if (strcmp(name, empty) == 0) CHECK(cm_reader_list_card_present(list, i) == 0, "empty reader listed as empty");
  }
  CHECK(found, "reader0 is listed");
  CHECK(cm_reader_list_card_present(list, 999) == -1, "index out of range");
  CHECK(cm_reader_list_name(list, 999, buf, sizeof buf, &len) == CM_STATUS_INVALID_ARGUMENT, "name out of range");
  cm_reader_list_free(list);
  CHECK(cm_list_readers(NULL) == CM_STATUS_NULL_ARGUMENT, "list NULL out");

  /* Waiting: a present card returns at once; an empty reader times out. */
  cm_connection conn_check;
  memset(&conn_check, 0, sizeof conn_check);
  conn_check.struct_size = (uint32_t)sizeof conn_check;
  conn_check.server_url = url;
  conn_check.auth_method = CM_AUTH_NONE;
  char name[256];
  rc = cm_wait_for_card(reader0, 2000, name, sizeof name, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(name, reader0) == 0, "wait present: %d", rc);
  CHECK(cm_wait_for_card(reader0, 0, name, sizeof name, NULL) == CM_STATUS_NULL_ARGUMENT, "wait NULL len_out");
  rc = cm_wait_for_card("", 2000, name, sizeof name, &len);
  CHECK(rc == CM_STATUS_OK && strcmp(name, reader0) == 0, "wait on \"\" (any reader): %d %s", rc, last_message());
  rc = cm_wait_for_card(reader0, 0, name, 3, &len);
  CHECK(rc == CM_STATUS_BUFFER_TOO_SMALL && len == strlen(reader0), "wait small buffer: %d %zu", rc, len);
  CHECK(cm_assign_smartcard_from_reader(&conn_check, NULL, reader0, CM_GUID_ORDER_WINDOWS, NULL) == CM_STATUS_NULL_ARGUMENT, "from-reader NULL request");
  CHECK(cm_assign_smartcard_from_reader(&conn_check, "nope", reader0, CM_GUID_ORDER_WINDOWS, NULL) == CM_STATUS_INVALID_GUID, "from-reader bad GUID");
  CHECK(cm_assign_smartcard_from_reader(&conn_check, want_card_id, reader0, 9, NULL) == CM_STATUS_INVALID_ARGUMENT, "from-reader bad byte order");
  rc = cm_wait_for_card(empty, 300, name, sizeof name, &len);
  CHECK(rc == CM_STATUS_PCSC_TIMEOUT, "wait times out: %d %s", rc, last_message());

  /* ATR parsing. */
  cm_atr_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = (uint32_t)sizeof info;
  rc = cm_parse_atr("3B:8D:01:80:FB:A0:00:00:03:97:42:54:46:59:03:01:C8", &info);
  CHECK(rc == CM_STATUS_OK && info.length == 17 && info.protocol_mask == 2 && info.historical_length == 13 &&
            info.tck_present == 1 && info.tck_valid == 1 && info.well_formed == 1 && info.historical_bytes[0] == 0x80,
        "parse atr: %d len=%u mask=%u", rc, info.length, info.protocol_mask);
  rc = cm_parse_atr("3b8d0180fba000000397425446590301c9", &info);
  CHECK(rc == CM_STATUS_OK && info.tck_valid == 0 && info.well_formed == 0, "bad TCK reported, not rejected");
  CHECK(cm_parse_atr("xyz", &info) == CM_STATUS_INVALID_ATR, "non-hex rejected");
  info.struct_size = 0;
  CHECK(cm_parse_atr("3b00", &info) == CM_STATUS_INVALID_STRUCT_SIZE, "struct_size checked");

  /* A forked child reads cards while its parent does: the library keeps a PC/SC context per process, and the
   * child must not share the parent's (one pcscd connection used by two processes mixes their answers). */
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) _exit(read_atrs(reader0, want_atr, 100) == 0 ? 0 : 1);
  int parent_bad = read_atrs(reader0, want_atr, 100);
  int child_status = -1;
  waitpid(child, &child_status, 0);
  CHECK(parent_bad == 0, "parent reads while a forked child reads: %d failed", parent_bad);
  CHECK(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0, "forked child reads: status %d", child_status);
  CHECK(read_atrs(reader0, want_atr, 3) == 0, "parent reads after the child exited");

  /* The whole job: card in reader -> bound -> URI. */
  cm_connection conn;
  memset(&conn, 0, sizeof conn);
  conn.struct_size = (uint32_t)sizeof conn;
  conn.server_url = url;
  conn.auth_method = CM_AUTH_NONE;
  cm_assign_result *result = NULL;
  /* "" (the first reader holding a card: reader0), as the .NET binding passes a missing reader name. */
  rc = cm_assign_smartcard_from_reader(&conn, request, "", CM_GUID_ORDER_WINDOWS, &result);
  CHECK(rc == CM_STATUS_OK && cm_assign_result_http_status(result) == 201, "assign from reader \"\": %d %s", rc, last_message());
  CHECK(cm_assign_result_card_id(result, id, sizeof id, &len) == CM_STATUS_OK && strcmp(id, want_card_id) == 0, "sent card id %s", id);
  CHECK(cm_assign_result_atr(result, buf, sizeof buf, &len) == CM_STATUS_OK && strcmp(buf, want_atr) == 0, "sent atr %s", buf);
  cm_assign_result_free(result);
  rc = cm_assign_smartcard_from_reader(&conn, request, empty, CM_GUID_ORDER_WINDOWS, &result);
  CHECK(rc == CM_STATUS_PCSC_NO_CARD && result == NULL, "assign from empty reader: %d", rc);

  return check_summary();
}
