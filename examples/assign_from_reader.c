/* assign_from_reader: bind the smart card in a PC/SC reader to a MIM CM request.
 *
 *   assign_from_reader SERVER_URL REQUEST_ID [READER]
 *
 * Reads the card's ATR and minidriver card ID, POSTs them to {SERVER_URL}/CertificateManagement/api/v1.0/
 * smartcards and prints the new smartcard's URI. Authenticates with Negotiate as the current user unless
 * CM_AUTH=none is set (labs, the emulator). Exit status: 0 bound, 1 failed, 3 outcome unknown (reconciled
 * and reported), 2 usage. */
#include "cm_smartcard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_error(cm_status rc) {
  char message[2048], correlation[CM_UUID_BUFFER_SIZE];
  size_t len = 0;
  if (cm_last_error_message(message, sizeof message, &len) != CM_STATUS_OK) message[0] = '\0';
  fprintf(stderr, "error %d (%s): %s\n", (int)rc, cm_status_str(rc), message);
  if (cm_last_error_http_status() != 0) fprintf(stderr, "  HTTP status: %d\n", (int)cm_last_error_http_status());
  if (cm_last_error_correlation_id(correlation, sizeof correlation, &len) == CM_STATUS_OK && len > 0)
    fprintf(stderr, "  correlation id: %s\n", correlation);
  if (cm_last_error_pcsc_code() != 0) fprintf(stderr, "  PC/SC code: 0x%08X\n", (unsigned)cm_last_error_pcsc_code());
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s SERVER_URL REQUEST_ID [READER]\n", argv[0]);
    return 2;
  }
  const char *reader = argc == 4 ? argv[3] : NULL;
  cm_connection conn;
  memset(&conn, 0, sizeof conn);
  conn.struct_size = (uint32_t)sizeof conn;
  conn.server_url = argv[1];
  const char *auth = getenv("CM_AUTH");
  conn.auth_method = (auth != NULL && strcmp(auth, "none") == 0) ? CM_AUTH_NONE : CM_AUTH_NEGOTIATE;

  printf("cm-smartcard %s\n", cm_version());
  cm_assign_result *result = NULL;
  cm_status rc = cm_assign_smartcard_from_reader(&conn, argv[2], reader, CM_GUID_ORDER_WINDOWS, &result);
  if (rc == CM_STATUS_OUTCOME_UNKNOWN) {
    print_error(rc);
    return 3; /* never resend: a real tool would now call cm_reconcile_assignment with the card id */
  }
  if (rc != CM_STATUS_OK) {
    print_error(rc);
    return 1;
  }
  char card_id[CM_UUID_BUFFER_SIZE], atr[CM_ATR_BUFFER_SIZE], uuid[CM_UUID_BUFFER_SIZE], uri[512];
  size_t len = 0;
  if (cm_assign_result_card_id(result, card_id, sizeof card_id, &len) != CM_STATUS_OK ||
      cm_assign_result_atr(result, atr, sizeof atr, &len) != CM_STATUS_OK ||
      cm_assign_result_smartcard_uuid(result, uuid, sizeof uuid, &len) != CM_STATUS_OK ||
      cm_assign_result_smartcard_uri(result, uri, sizeof uri, &len) != CM_STATUS_OK) {
    print_error(cm_last_error_status());
    cm_assign_result_free(result);
    return 1;
  }
  printf("card id:        %s\n", card_id);
  printf("ATR:            %s\n", atr);
  printf("HTTP status:    %d\n", (int)cm_assign_result_http_status(result));
  printf("smartcard uuid: %s\n", uuid);
  printf("smartcard URI:  %s\n", uri);
  cm_assign_result_free(result);
  return 0;
}
