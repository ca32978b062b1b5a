/* assign: bind a smart card to a MIM CM request from the command line (the README demo).
 *
 *   assign SERVER_URL REQUEST_ID CARD_ID [ATR]
 *
 * Authentication: the current user with Negotiate by default; set CM_AUTH=none|basic|ntlm|negotiate and
 * CM_USER / CM_PASSWORD for explicit credentials (CM_INSECURE=1 allows them over plain http:// in labs).
 * Prints the new smartcard's uuid and URI; on failure prints the status name, the message, the HTTP status,
 * the server's message and the correlation id, and exits with 1 (2 for usage errors, 3 when the outcome is
 * unknown: run it again only after checking with cm_reconcile_assignment()).
 *
 * Build: cc -std=c11 assign.c $(pkg-config --cflags --libs cm_smartcard) -o assign */
#include <cm_smartcard.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies a last-error string with the size-query pattern; "" when unavailable. */
static void last_error_string(cm_status (*get)(char *, size_t, size_t *), char *buf, size_t buf_len)
{
    size_t len = 0;
    if (get(buf, buf_len, &len) != CM_STATUS_OK) {
        buf[0] = '\0';
    }
}

static int report_failure(const char *what, cm_status rc)
{
    char message[2048], server[1024], correlation[128];
    last_error_string(cm_last_error_message, message, sizeof message);
    last_error_string(cm_last_error_server_message, server, sizeof server);
    last_error_string(cm_last_error_correlation_id, correlation, sizeof correlation);
    fprintf(stderr, "%s failed: status %d (%s)\n", what, (int)rc, cm_status_str(rc));
    fprintf(stderr, "  message: %s\n", message);
    if (cm_last_error_http_status() != 0) {
        fprintf(stderr, "  HTTP status: %" PRId32 "\n", cm_last_error_http_status());
    }
    if (server[0] != '\0') {
        fprintf(stderr, "  server message: %s\n", server);
    }
    if (correlation[0] != '\0') {
        fprintf(stderr, "  correlation id: %s (give it to the CM administrator)\n", correlation);
    }
    if (rc == CM_STATUS_OUTCOME_UNKNOWN) {
        fprintf(stderr, "  the card may or may not be bound: check with cm_reconcile_assignment() before retrying\n");
        return 3;
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s SERVER_URL REQUEST_ID CARD_ID [ATR]\n(cm-smartcard %s)\n", argv[0], cm_version());
        return 2;
    }
    if (cm_abi_version() != CM_ABI_VERSION) {
        fprintf(stderr, "library ABI %" PRIu32 " does not match the header's %d\n", cm_abi_version(), CM_ABI_VERSION);
        return 2;
    }

    cm_connection conn;
    memset(&conn, 0, sizeof conn);
    conn.struct_size = sizeof conn;
    conn.server_url = argv[1];
    const char *auth = getenv("CM_AUTH");
    if (auth != NULL) {
        if (strcmp(auth, "none") == 0) {
            conn.auth_method = CM_AUTH_NONE;
        } else if (strcmp(auth, "basic") == 0) {
            conn.auth_method = CM_AUTH_BASIC;
        } else if (strcmp(auth, "ntlm") == 0) {
            conn.auth_method = CM_AUTH_NTLM;
        } else if (strcmp(auth, "negotiate") == 0) {
            conn.auth_method = getenv("CM_USER") != NULL ? CM_AUTH_NEGOTIATE_EXPLICIT : CM_AUTH_NEGOTIATE;
        } else {
            fprintf(stderr, "CM_AUTH must be none, basic, ntlm or negotiate\n");
            return 2;
        }
    }
    conn.username = getenv("CM_USER");
    conn.password = getenv("CM_PASSWORD");
    if (getenv("CM_INSECURE") != NULL) {
        conn.auth_flags = CM_AUTH_FLAG_ALLOW_INSECURE_HTTP;
    }

    cm_assignment assignment;
    memset(&assignment, 0, sizeof assignment);
    assignment.struct_size = sizeof assignment;
    assignment.request_id = argv[2];
    assignment.card_id = argv[3];
    assignment.atr = argc == 5 ? argv[4] : NULL;

    cm_assign_result *result = NULL;
    cm_status rc = cm_assign_smartcard(&conn, &assignment, &result);
    if (rc != CM_STATUS_OK) {
        return report_failure("cm_assign_smartcard", rc);
    }

    char uuid[CM_UUID_BUFFER_SIZE];
    char uri[512];
    size_t len = 0;
    if (cm_assign_result_smartcard_uuid(result, uuid, sizeof uuid, &len) != CM_STATUS_OK ||
        cm_assign_result_smartcard_uri(result, uri, sizeof uri, &len) != CM_STATUS_OK) {
        rc = (cm_status)cm_last_error_status();
        cm_assign_result_free(result);
        return report_failure("reading the result", rc);
    }
    printf("bound: HTTP %" PRId32 "\nsmartcard uuid: %s\nsmartcard uri: %s\n", cm_assign_result_http_status(result),
           uuid[0] != '\0' ? uuid : "(none: the server answered 204)", uri);
    cm_assign_result_free(result);
    return 0;
}
