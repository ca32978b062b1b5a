/* bulk_assign: bind many cards over one cm_session — what a migration or an enrollment station does.
 *
 *   bulk_assign SERVER_URL < assignments.txt
 *
 * Each input line is "REQUEST_ID CARD_ID [ATR]" (blank lines and lines starting with # are skipped). One
 * session carries every call: one TLS handshake, one Negotiate/NTLM handshake where the server keeps it per
 * connection (IIS does), no TIME_WAIT pile-up. A binding whose outcome is unknown is reconciled (GETs only)
 * before the next line; it is never sent twice. Authentication: as examples/assign.c (CM_AUTH, CM_USER,
 * CM_PASSWORD, CM_INSECURE). Prints one line per assignment; exits 0 when all were bound, 1 when some failed,
 * 3 when an outcome stayed unknown.
 *
 * Build: cc -std=c11 bulk_assign.c $(pkg-config --cflags --libs cm_smartcard) -o bulk_assign */
#include <cm_smartcard.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *last_message(void)
{
    static char buf[2048];
    size_t len = 0;
    if (cm_last_error_message(buf, sizeof buf, &len) != CM_STATUS_OK) {
        buf[0] = '\0';
    }
    return buf;
}

static uint32_t auth_method(void)
{
    const char *m = getenv("CM_AUTH");
    if (m == NULL || strcmp(m, "negotiate") == 0) return CM_AUTH_NEGOTIATE;
    if (strcmp(m, "none") == 0) return CM_AUTH_NONE;
    if (strcmp(m, "ntlm") == 0) return CM_AUTH_NTLM;
    if (strcmp(m, "basic") == 0) return CM_AUTH_BASIC;
    return CM_AUTH_NEGOTIATE_EXPLICIT;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SERVER_URL < assignments.txt\n", argv[0]);
        return 2;
    }
    cm_connection conn;
    memset(&conn, 0, sizeof conn);
    conn.struct_size = (uint32_t)sizeof conn;
    conn.server_url = argv[1];
    conn.auth_method = auth_method();
    conn.username = getenv("CM_USER");
    conn.password = getenv("CM_PASSWORD");
    if (getenv("CM_INSECURE") != NULL) conn.auth_flags |= CM_AUTH_FLAG_ALLOW_INSECURE_HTTP;

    cm_session *session = NULL;
    cm_status rc = cm_session_new(&conn, &session);
    if (rc != CM_STATUS_OK) {
        fprintf(stderr, "cm_session_new: status %d: %s\n", (int)rc, last_message());
        return 2;
    }
    int bound = 0, failed = 0, unknown = 0;
    char line[512];
    while (fgets(line, sizeof line, stdin) != NULL) {
        char request[128] = "", card[128] = "", atr[128] = "";
        if (line[0] == '#' || sscanf(line, "%127s %127s %127s", request, card, atr) < 2) continue;
        cm_assignment a;
        memset(&a, 0, sizeof a);
        a.struct_size = (uint32_t)sizeof a;
        a.request_id = request;
        a.card_id = card;
        a.atr = atr[0] != '\0' ? atr : NULL;
        cm_assign_result *result = NULL;
        rc = cm_session_assign_smartcard(session, &a, &result);
        if (rc == CM_STATUS_OUTCOME_UNKNOWN) {
            /* Never resend blindly: ask the server whether it happened. */
            int32_t state = -1;
            cm_status rrc = cm_session_reconcile_assignment(session, &a, &state, NULL, 0, NULL);
            if (rrc == CM_STATUS_OK && state == CM_BINDING_BOUND_TO_THIS_CARD) {
                printf("bound    %s %s (confirmed after an unknown outcome)\n", request, card);
                bound++;
            } else {
                printf("UNKNOWN  %s %s: %s\n", request, card, last_message());
                unknown++;
            }
        } else if (rc == CM_STATUS_OK || rc == CM_STATUS_AUTH_SERVER_UNVERIFIED) {
            char uuid[CM_UUID_BUFFER_SIZE] = "";
            size_t len = 0;
            (void)cm_assign_result_smartcard_uuid(result, uuid, sizeof uuid, &len);
            printf("bound    %s %s -> smartcard %s%s\n", request, card, uuid,
                   rc == CM_STATUS_AUTH_SERVER_UNVERIFIED ? " (server identity NOT verified)" : "");
            bound++;
        } else {
            printf("FAILED   %s %s: status %d (%s): %s\n", request, card, (int)rc, cm_status_str(rc), last_message());
            failed++;
        }
        cm_assign_result_free(result);
    }
    cm_session_free(session);
    printf("%d bound, %d failed, %d unknown\n", bound, failed, unknown);
    return unknown ? 3 : failed ? 1 : 0;
}
