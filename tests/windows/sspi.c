/* SSPI (Negotiate/NTLM through Windows' secur32, here Wine's) against the auth rig (tests/rigs/auth):
 * GET a request through the authenticating proxy. Authenticated, the proxy forwards it to the CM emulator,
 * which answers (CM_STATUS_OK); not authenticated, the answer is an auth status (400-499).
 *
 * Usage: sspi URL METHOD EXPECTED_STATUS
 *   METHOD  negotiate (current user's Kerberos ticket), negotiate-explicit, ntlm
 *   explicit credentials come from the environment: CM_TEST_USER, CM_TEST_PASSWORD (not the command line)
 * Prints the outcome; exit status 0 when the status is EXPECTED_STATUS, 1 otherwise, 2 usage. */
#include "cm_smartcard.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL negotiate|negotiate-explicit|ntlm EXPECTED_STATUS\n", argv[0]);
        return 2;
    }
    cm_connection conn;
    memset(&conn, 0, sizeof conn);
    conn.struct_size = (uint32_t)sizeof conn;
    conn.server_url = argv[1];
    conn.timeout_ms = 20000;
    conn.auth_flags = CM_AUTH_FLAG_ALLOW_INSECURE_HTTP; /* loopback rig without TLS */
    if (strcmp(argv[2], "negotiate") == 0) {
        conn.auth_method = CM_AUTH_NEGOTIATE;
    } else if (strcmp(argv[2], "negotiate-explicit") == 0) {
        conn.auth_method = CM_AUTH_NEGOTIATE_EXPLICIT;
    } else if (strcmp(argv[2], "ntlm") == 0) {
        conn.auth_method = CM_AUTH_NTLM;
    } else {
        fprintf(stderr, "unknown method %s\n", argv[2]);
        return 2;
    }
    if (conn.auth_method != CM_AUTH_NEGOTIATE) {
        conn.username = getenv("CM_TEST_USER");
        conn.password = getenv("CM_TEST_PASSWORD");
    }
    int expected = atoi(argv[3]);

    cm_request *req = NULL;
    cm_status rc = cm_get_request(&conn, "0badc0de-0000-4000-8000-000000000001", &req);
    cm_request_free(req);
    if (rc == CM_STATUS_TIMEOUT && expected != (int)CM_STATUS_TIMEOUT) {
        /* Seen only under Wine, only for a process's first Kerberos call, only on fresh CI clones: the answer
         * does not arrive within the timeout (docs/windows.md, "open questions"). Said, then tried once more. */
        printf("note: the first call timed out under Wine; trying once more\n");
        req = NULL;
        rc = cm_get_request(&conn, "0badc0de-0000-4000-8000-000000000001", &req);
        cm_request_free(req);
    }
    char msg[2048] = "";
    size_t len = 0;
    if (cm_last_error_message(msg, sizeof msg, &len) != CM_STATUS_OK) {
        msg[0] = '\0';
    }
    printf("%s %s: status %d (%s), HTTP %" PRId32 ": %s\n", argv[2], argv[1], (int)rc, cm_status_str(rc),
           cm_last_error_http_status(), msg);
    int ok = (int)rc == expected;

    /* The same through a session: three GETs on pooled keep-alive connections (connection-bound auth). */
    cm_session *session = NULL;
    cm_status src = cm_session_new(&conn, &session);
    int session_ok = src == CM_STATUS_OK;
    for (int i = 0; i < 3 && session_ok; i++) {
        req = NULL;
        src = cm_session_get_request(session, "0badc0de-0000-4000-8000-000000000002", &req);
        cm_request_free(req);
        session_ok = (int)src == expected;
    }
    cm_session_free(session);
    printf("session: %s (last status %d %s)\n", session_ok ? "3 GETs as expected" : "not the expected status", (int)src, cm_status_str(src));
    return ok && session_ok ? 0 : 1;
}
