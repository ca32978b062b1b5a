/* enroll: the MIM CM smart card enrollment documented in sample-enrollment-walkthrough.md, end to end,
 * then the card's later life: an Unblock and a Retire.
 *
 *   enroll [--reader NAME] [--template NAME] [--ca FILE] [--timeout SECONDS] SERVER_URL
 *
 *   --reader    the PC/SC reader (exact name or a unique part of it); default: the first reader with a card
 *   --template  the profile template's Name; default "Smartcard User"
 *   --ca        PEM file of the issuing CA: the returned PKCS#7 certificates are verified against it
 *   --timeout   seconds to wait for a request's approval; default 120
 *
 * Authentication as in assign.c: Negotiate as the current user by default; CM_AUTH=none|basic|ntlm|negotiate,
 * CM_USER, CM_PASSWORD, CM_INSECURE=1 (credentials over plain http:// in labs).
 *
 * The steps: read the card (ATR, minidriver card ID) → pick the profile template → read its Enroll policy →
 * create an Enroll request → wait for approval → bind the card → read the smart card configuration → answer
 * admin-key challenges as CM would for the card → build one PKCS#10 request per CSR option → submit them →
 * verify the PKCS#7 answers against the CA → complete the request; then Unblock (challenge/response) and
 * Retire. The keys are software keys made with OpenSSL: a real enrollment tool has the card make them (its
 * minidriver / KSP) and writes the certificates and the new admin key to the card; the CM side is the same.
 *
 * Exit status: 0 done, 1 a step failed (what, the library status, message and HTTP status on stderr),
 * 2 usage.
 *
 * Build: cc -std=c11 enroll.c $(pkg-config --cflags --libs cm_smartcard libcrypto) -o enroll */
#define _POSIX_C_SOURCE 200809L

#include <cm_smartcard.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ADMIN_KEY_LEN 24  /* a 3DES (EDE, three keys) Base CSP admin key */
#define CHALLENGE_LEN 8   /* the card's admin challenge: one 3DES block */
#define STATUS_PENDING 1  /* request status numbers: CM documents 3 and 8 only; 1 is what CM uses for Pending */
#define STATUS_APPROVED 3
#define MAX_CSRS 16

typedef struct options {
    const char *server_url;
    const char *reader; /* NULL: the first reader holding a card */
    const char *template_name;
    const char *ca_file; /* NULL: chains are not checked */
    long timeout_seconds;
} options;

/* Everything the run holds; freed (and the secrets wiped) by enrollment_free. */
typedef struct enrollment {
    const options *opt;
    cm_session *session;
    char atr[CM_ATR_BUFFER_SIZE];
    char card_id[CM_UUID_BUFFER_SIZE];
    char template_uuid[CM_UUID_BUFFER_SIZE];
    char enroll_request[CM_UUID_BUFFER_SIZE];
    char smartcard_uuid[CM_UUID_BUFFER_SIZE];
    int32_t diversify_admin_key;
    uint8_t default_admin_key[ADMIN_KEY_LEN];
    X509_STORE *trusted_ca;
    EVP_PKEY *keys[MAX_CSRS]; /* the software keys behind the CSRs */
    size_t key_count;
} enrollment;

/* ---- reporting ---------------------------------------------------------------------------------------- */

static void last_error_string(cm_status (*get)(char *, size_t, size_t *), char *buf, size_t buf_len)
{
    size_t len = 0;
    if (get(buf, buf_len, &len) != CM_STATUS_OK) {
        buf[0] = '\0';
    }
}

/* A library call failed: what was being done, the status, the library's message, the HTTP status and the
 * server's own message. Returns 1, the exit status. */
static int cm_failed(const char *what, cm_status rc)
{
    char message[2048], server[1024];
    last_error_string(cm_last_error_message, message, sizeof message);
    last_error_string(cm_last_error_server_message, server, sizeof server);
    fprintf(stderr, "FAILED: %s: status %d (%s)\n", what, (int)rc, cm_status_str(rc));
    fprintf(stderr, "  message: %s\n", message);
    fprintf(stderr, "  HTTP status: %" PRId32 "\n", cm_last_error_http_status());
    if (server[0] != '\0') {
        fprintf(stderr, "  server message: %s\n", server);
    }
    if (cm_last_error_pcsc_code() != 0) {
        fprintf(stderr, "  PC/SC code: 0x%08" PRIX32 "\n", cm_last_error_pcsc_code());
    }
    return 1;
}

/* A check of our own failed. Returns 1. */
static int failed(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("FAILED: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    return 1;
}

/* An OpenSSL call failed: its error queue says why. Returns 1. */
static int openssl_failed(const char *what)
{
    fprintf(stderr, "FAILED: %s (OpenSSL)\n", what);
    ERR_print_errors_fp(stderr);
    return 1;
}

static void hex(const uint8_t *bytes, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    }
}

/* ---- small accessors ---------------------------------------------------------------------------------- */

/* A string field, "" when CM left it out or sent null (fields are optional in CM's answers). */
static void field_or_empty(const cm_object *o, const char *field, char *buf, size_t buf_len)
{
    size_t len = 0;
    if (cm_object_get_string(o, field, buf, buf_len, &len) != CM_STATUS_OK) {
        buf[0] = '\0';
    }
}

/* The number of items; 0 for an empty answer (CM's 204). */
static size_t list_count(const cm_list *list)
{
    size_t count = 0;
    if (cm_list_count(list, &count) != CM_STATUS_OK) {
        count = 0;
    }
    return count;
}

/* A request's status: the number, and its name where CM documents it ("" otherwise). */
static cm_status request_status(cm_session *s, const char *request_uuid, int64_t *number, char *name,
                                size_t name_len)
{
    cm_request *request = NULL;
    cm_status rc = cm_session_get_request(s, request_uuid, &request);
    if (rc != CM_STATUS_OK) {
        return rc;
    }
    if (request == NULL) { /* CM answers 204 for a request it does not know */
        *number = -1;
        snprintf(name, name_len, "unknown to CM");
        return CM_STATUS_OK;
    }
    cm_object *o = NULL;
    rc = cm_request_to_object(request, &o);
    cm_request_free(request);
    if (rc != CM_STATUS_OK) {
        return rc;
    }
    size_t len = 0;
    rc = cm_object_get_int(o, "Status", number);
    if (rc == CM_STATUS_OK && cm_object_get_enum_name(o, "Status", name, name_len, &len) != CM_STATUS_OK) {
        name[0] = '\0'; /* CM_STATUS_ENUM_UNKNOWN: an undocumented number, still valid */
    }
    cm_object_free(o);
    return rc;
}

/* ---- 1. the card -------------------------------------------------------------------------------------- */

static int read_card(enrollment *e)
{
    size_t len = 0;
    cm_status rc = cm_read_card_atr(e->opt->reader, e->atr, sizeof e->atr, &len);
    if (rc != CM_STATUS_OK) {
        return cm_failed("reading the card's ATR", rc);
    }
    /* The minidriver card ID in the byte order Windows uses: CM stores it as the smart card's SerialNumber. */
    rc = cm_read_card_id(e->opt->reader, CM_GUID_ORDER_WINDOWS, e->card_id, sizeof e->card_id, &len);
    if (rc != CM_STATUS_OK) {
        return cm_failed("reading the card ID", rc);
    }
    printf("card: ATR %s, card id %s (reader: %s)\n", e->atr, e->card_id,
           e->opt->reader != NULL ? e->opt->reader : "the first with a card");
    return 0;
}

/* ---- 2. the session ----------------------------------------------------------------------------------- */

static int open_session(enrollment *e)
{
    cm_connection conn;
    memset(&conn, 0, sizeof conn);
    conn.struct_size = sizeof conn;
    conn.server_url = e->opt->server_url;
    const char *auth = getenv("CM_AUTH");
    if (auth == NULL || strcmp(auth, "negotiate") == 0) {
        conn.auth_method = getenv("CM_USER") != NULL ? CM_AUTH_NEGOTIATE_EXPLICIT : CM_AUTH_NEGOTIATE;
    } else if (strcmp(auth, "none") == 0) {
        conn.auth_method = CM_AUTH_NONE;
    } else if (strcmp(auth, "basic") == 0) {
        conn.auth_method = CM_AUTH_BASIC;
    } else if (strcmp(auth, "ntlm") == 0) {
        conn.auth_method = CM_AUTH_NTLM;
    }
    conn.username = getenv("CM_USER");
    conn.password = getenv("CM_PASSWORD");
    if (getenv("CM_INSECURE") != NULL) {
        conn.auth_flags = CM_AUTH_FLAG_ALLOW_INSECURE_HTTP;
    }
    /* One session for the whole run: one kept-alive, authenticated connection for some thirty calls. */
    cm_status rc = cm_session_new(&conn, &e->session);
    if (rc != CM_STATUS_OK) {
        return cm_failed("creating the session", rc);
    }
    printf("server: %s\n", e->opt->server_url);
    return 0;
}

/* ---- 3. the profile template and its Enroll policy ---------------------------------------------------- */

static int find_template(enrollment *e)
{
    cm_list *templates = NULL;
    cm_status rc = cm_session_list_profile_templates(e->session, &templates);
    if (rc != CM_STATUS_OK) {
        return cm_failed("listing the profile templates", rc);
    }
    size_t count = list_count(templates), len = 0;
    char offered[1024] = "";
    int32_t is_smartcard = 0;
    int found = 0;
    for (size_t i = 0; i < count && !found; i++) {
        cm_object *t = NULL;
        char name[256];
        if (cm_list_get(templates, i, &t) != CM_STATUS_OK) {
            continue;
        }
        field_or_empty(t, "Name", name, sizeof name);
        if (strcmp(name, e->opt->template_name) == 0) {
            found = 1;
            rc = cm_object_get_guid(t, "Uuid", e->template_uuid, sizeof e->template_uuid, &len);
            if (cm_object_get_bool(t, "IsSmartcardProfileTemplate", &is_smartcard) != CM_STATUS_OK) {
                is_smartcard = 1; /* not sent: let CM decide when the card is bound */
            }
        } else {
            size_t used = strlen(offered);
            snprintf(offered + used, sizeof offered - used, "%s\"%s\"", used > 0 ? ", " : "", name);
        }
        cm_object_free(t);
    }
    cm_list_free(templates);
    if (!found) {
        return failed("no profile template named \"%s\" (the server offers %s)", e->opt->template_name,
                      offered[0] != '\0' ? offered : "none");
    }
    if (rc != CM_STATUS_OK) {
        return failed("profile template \"%s\" has no valid Uuid: status %d (%s)", e->opt->template_name, (int)rc,
                      cm_status_str(rc));
    }
    if (!is_smartcard) {
        return failed("profile template \"%s\" is not a smart card template", e->opt->template_name);
    }
    printf("template: \"%s\" %s\n", e->opt->template_name, e->template_uuid);
    return 0;
}

static int show_enroll_policy(enrollment *e)
{
    cm_object *policy = NULL;
    cm_status rc = cm_session_get_profile_template_policy(e->session, e->template_uuid, "Enroll", &policy);
    if (rc != CM_STATUS_OK) {
        return cm_failed("reading the Enroll policy", rc);
    }
    if (policy == NULL) {
        return failed("the server has no Enroll policy for template %s", e->template_uuid);
    }
    int32_t enabled = 0;
    int64_t approvals = 0;
    if (cm_object_get_bool(policy, "Enabled", &enabled) != CM_STATUS_OK) {
        enabled = 1; /* not every CM version sends it; CM refuses the request itself if it is off */
    }
    rc = cm_object_get_int(policy, "ApprovalsNeeded", &approvals);
    cm_object_free(policy);
    if (rc != CM_STATUS_OK) {
        return cm_failed("reading ApprovalsNeeded", rc);
    }
    if (!enabled) {
        return failed("the template's Enroll policy is not enabled");
    }
    printf("Enroll policy: ApprovalsNeeded %" PRId64 "%s\n", approvals,
           approvals > 0 ? " (a CM manager must approve the request)" : " (approved at once)");
    return 0;
}

/* ---- 4. requests: create (at most once, reconciled), wait for approval, complete ---------------------- */

/* Creates a request of `type` (for the Enroll request: from the template; otherwise about the bound card)
 * and copies its id into `uuid_out`. The POST is sent at most once: when its outcome is unknown, the
 * request is looked for by its unique comment instead of being sent again. */
static int create_request(enrollment *e, const char *type, char *uuid_out, size_t uuid_len)
{
    char comment[160];
    uint8_t nonce[4] = {0};
    char nonce_hex[2 * sizeof nonce + 1];
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
        return openssl_failed("random bytes for the request comment");
    }
    hex(nonce, sizeof nonce, nonce_hex);
    time_t started = time(NULL); /* before the POST: the reconcile looks for requests submitted since */
    snprintf(comment, sizeof comment, "enroll.c %s for card %s at %lld #%s", type, e->card_id, (long long)started,
             nonce_hex);

    cm_request_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.struct_size = sizeof spec;
    spec.request_type = type;
    if (strcmp(type, "Enroll") == 0) {
        spec.profile_template_uuid = e->template_uuid;
    } else {
        spec.smartcard_uuid = e->smartcard_uuid; /* Unblock, Retire, ...: the card names its template */
    }
    spec.comment = comment;
    spec.priority = -1; /* the policy's default */

    cm_object *created = NULL;
    size_t len = 0;
    cm_status rc = cm_session_create_request(e->session, &spec, &created);
    if (rc == CM_STATUS_OK) {
        rc = cm_object_get_guid(created, "Uuid", uuid_out, uuid_len, &len);
        cm_object_free(created);
        if (rc != CM_STATUS_OK) {
            return cm_failed("reading the new request's id", rc);
        }
    } else if (rc == CM_STATUS_OUTCOME_UNKNOWN) {
        printf("%s request: outcome unknown (the answer was lost); looking for it by its comment\n", type);
        cm_list *found = NULL;
        cm_status rc2 = cm_session_find_created_requests(e->session, &spec, (int64_t)started, &found);
        if (rc2 != CM_STATUS_OK) {
            return cm_failed("looking for the request after the lost answer", rc2);
        }
        size_t count = list_count(found);
        cm_object *request = NULL;
        if (count == 1 && cm_list_get(found, 0, &request) == CM_STATUS_OK) {
            rc2 = cm_object_get_guid(request, "Uuid", uuid_out, uuid_len, &len);
            cm_object_free(request);
        }
        cm_list_free(found);
        if (count == 0) {
            return failed("the %s request was not created (nothing to undo); run enroll again", type);
        }
        if (count > 1 || rc2 != CM_STATUS_OK) {
            return failed("%zu requests match the %s request's comment; check them in CM before going on", count,
                          type);
        }
        printf("%s request: found, it was created\n", type);
    } else {
        return cm_failed(strcmp(type, "Enroll") == 0 ? "creating the Enroll request"
                         : strcmp(type, "Unblock") == 0 ? "creating the Unblock request"
                                                        : "creating the Retire request",
                         rc);
    }
    printf("%s request created: %s\n", type, uuid_out);
    fflush(stdout); /* whoever approves it may be reading this line right now */
    return 0;
}

/* Polls the request until CM says Approved (status 3), for at most --timeout seconds. */
static int wait_until_approved(enrollment *e, const char *type, const char *request_uuid)
{
    time_t deadline = time(NULL) + e->opt->timeout_seconds;
    int64_t last = -2;
    for (;;) {
        int64_t number = 0;
        char name[64];
        cm_status rc = request_status(e->session, request_uuid, &number, name, sizeof name);
        if (rc != CM_STATUS_OK) {
            return cm_failed("reading the request's status", rc);
        }
        if (number == STATUS_APPROVED || strcmp(name, "Approved") == 0) {
            printf("%s request approved (Status %" PRId64 ")\n", type, number);
            return 0;
        }
        if (number != STATUS_PENDING) {
            /* Denied, Canceled, ...: CM does not document these numbers; anything but Pending ends the wait */
            return failed("%s request %s is in status %" PRId64 "%s%s%s, not Approved", type, request_uuid, number,
                          name[0] != '\0' ? " (" : "", name, name[0] != '\0' ? ")" : "");
        }
        if (number != last) {
            printf("%s request pending: waiting up to %ld s for a CM manager to approve it\n", type,
                   e->opt->timeout_seconds);
            fflush(stdout);
            last = number;
        }
        if (time(NULL) >= deadline) {
            return failed("%s request %s was not approved within %ld s (it stays pending in CM)", type, request_uuid,
                          e->opt->timeout_seconds);
        }
        struct timespec second = {1, 0};
        nanosleep(&second, NULL);
    }
}

static int complete_request(enrollment *e, const char *type, const char *request_uuid)
{
    cm_object *request = NULL;
    /* A PUT, sent at most once; after CM_STATUS_OUTCOME_UNKNOWN read the request back before anything else. */
    cm_status rc = cm_session_set_request_status(e->session, request_uuid, "Completed", &request);
    if (rc != CM_STATUS_OK) {
        return cm_failed("completing the request", rc);
    }
    int64_t number = -1;
    if (request != NULL) {
        if (cm_object_get_int(request, "Status", &number) != CM_STATUS_OK) {
            number = -1;
        }
        cm_object_free(request);
    }
    printf("%s request completed (Status %" PRId64 ")\n", type, number);
    return 0;
}

/* ---- 5. binding the card ------------------------------------------------------------------------------ */

static int bind_card(enrollment *e)
{
    cm_assignment a;
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.request_id = e->enroll_request;
    a.card_id = e->card_id;
    a.atr = e->atr;
    cm_assign_result *result = NULL;
    size_t len = 0;
    cm_status rc = cm_session_assign_smartcard(e->session, &a, &result);
    if (rc == CM_STATUS_OUTCOME_UNKNOWN) {
        /* The POST is never resent: ask CM whether this card is bound to the request. */
        int32_t state = CM_BINDING_NOT_BOUND;
        cm_status rc2 = cm_session_reconcile_assignment(e->session, &a, &state, e->smartcard_uuid,
                                                        sizeof e->smartcard_uuid, &len);
        if (rc2 != CM_STATUS_OK) {
            return cm_failed("checking the binding after a lost answer", rc2);
        }
        if (state != CM_BINDING_BOUND_TO_THIS_CARD) {
            return failed("the card was not bound (binding state %d); run enroll again", (int)state);
        }
    } else if (rc != CM_STATUS_OK) {
        return cm_failed("binding the card to the request", rc);
    } else {
        rc = cm_assign_result_smartcard_uuid(result, e->smartcard_uuid, sizeof e->smartcard_uuid, &len);
        cm_assign_result_free(result);
        if (rc != CM_STATUS_OK || e->smartcard_uuid[0] == '\0') {
            return failed("CM bound the card but did not name the smart card (HTTP 204)");
        }
    }
    printf("card bound: smartcard %s\n", e->smartcard_uuid);
    return 0;
}

/* ---- 6. the admin key: configuration, challenge/response ---------------------------------------------- */

static int parse_hex_key(const char *text, uint8_t *key, size_t key_len)
{
    if (strlen(text) != 2 * key_len) {
        return -1;
    }
    for (size_t i = 0; i < key_len; i++) {
        unsigned int byte = 0;
        if (!isxdigit((unsigned char)text[2 * i]) || !isxdigit((unsigned char)text[2 * i + 1]) ||
            sscanf(text + 2 * i, "%2x", &byte) != 1) {
            return -1;
        }
        key[i] = (uint8_t)byte;
    }
    return 0;
}

static int read_smartcard_config(enrollment *e)
{
    cm_object *config = NULL;
    cm_status rc = cm_session_get_smartcard_config(e->session, e->template_uuid, &config);
    if (rc != CM_STATUS_OK) {
        return cm_failed("reading the smart card configuration", rc);
    }
    if (config == NULL) {
        return failed("the template has no smart card configuration");
    }
    char key_hex[2 * ADMIN_KEY_LEN + 1];
    size_t len = 0;
    rc = cm_object_get_bool(config, "DiversifyAdminKey", &e->diversify_admin_key);
    if (rc == CM_STATUS_OK) {
        rc = cm_object_get_string(config, "DefaultAdminKeyHex", key_hex, sizeof key_hex, &len);
    }
    cm_object_free(config);
    if (rc != CM_STATUS_OK) {
        OPENSSL_cleanse(key_hex, sizeof key_hex);
        return cm_failed("reading DiversifyAdminKey and DefaultAdminKeyHex", rc);
    }
    int bad = parse_hex_key(key_hex, e->default_admin_key, sizeof e->default_admin_key);
    OPENSSL_cleanse(key_hex, sizeof key_hex); /* the default admin key is a secret: no copy lingers */
    if (bad) {
        return failed("DefaultAdminKeyHex is not %d hex bytes", ADMIN_KEY_LEN);
    }
    printf("smart card configuration: DiversifyAdminKey %s, DefaultAdminKeyHex present (%d bytes)\n",
           e->diversify_admin_key ? "true" : "false", ADMIN_KEY_LEN);
    return 0;
}

/* What the card computes to check an admin: 3DES-EDE ECB of the 8-byte challenge under the admin key. */
static int des3_ecb(const uint8_t key[ADMIN_KEY_LEN], const uint8_t in[CHALLENGE_LEN], uint8_t out[CHALLENGE_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, final_len = 0;
    int ok = ctx != NULL && EVP_EncryptInit_ex(ctx, EVP_des_ede3_ecb(), NULL, key, NULL) == 1 &&
             EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 && EVP_EncryptUpdate(ctx, out, &len, in, CHALLENGE_LEN) == 1 &&
             EVP_EncryptFinal_ex(ctx, out + len, &final_len) == 1 && len + final_len == CHALLENGE_LEN;
    EVP_CIPHER_CTX_free(ctx); /* wipes the key schedule */
    return ok ? 0 : -1;
}

/* Plays the card: makes a random challenge, asks CM for the response under the default key (diversified 0)
 * or the card's diversified key (1), and checks it against the key as the card would. */
static int check_challenge_response(enrollment *e, const char *request_uuid, int32_t diversified, const char *label)
{
    uint8_t key[ADMIN_KEY_LEN];
    uint8_t challenge[CHALLENGE_LEN], response[CHALLENGE_LEN], expected[CHALLENGE_LEN];
    size_t len = 0;
    cm_status rc;
    int result = 0;

    if (diversified) {
        /* CM derives the card's own admin key from its master key and the card id. */
        rc = cm_session_get_admin_key(e->session, request_uuid, e->smartcard_uuid, e->card_id, e->atr, key, sizeof key,
                                      &len);
        if (rc != CM_STATUS_OK) {
            return cm_failed("getting the diversified admin key", rc);
        }
        if (len != ADMIN_KEY_LEN) {
            OPENSSL_cleanse(key, sizeof key);
            return failed("the diversified admin key has %zu bytes, not %d", len, ADMIN_KEY_LEN);
        }
    } else {
        memcpy(key, e->default_admin_key, sizeof key);
    }
    if (RAND_bytes(challenge, sizeof challenge) != 1) {
        result = openssl_failed("making the challenge");
        goto wipe;
    }
    rc = cm_session_get_authentication_response(e->session, request_uuid, e->smartcard_uuid, e->card_id, e->atr,
                                                challenge, sizeof challenge, diversified, response, sizeof response,
                                                &len);
    if (rc != CM_STATUS_OK) {
        result = cm_failed("getting the authentication response", rc);
        goto wipe;
    }
    if (des3_ecb(key, challenge, expected) != 0) {
        result = openssl_failed("3DES-EDE-ECB");
        goto wipe;
    }
    if (len != CHALLENGE_LEN || CRYPTO_memcmp(response, expected, CHALLENGE_LEN) != 0) {
        result = failed("%s: CM's response does not match 3DES-EDE-ECB(%s admin key, challenge)", label,
                        diversified ? "diversified" : "default");
        goto wipe;
    }
    char challenge_hex[2 * CHALLENGE_LEN + 1];
    hex(challenge, sizeof challenge, challenge_hex);
    printf("%s: challenge %s answered with the %s admin key: response verified\n", label, challenge_hex,
           diversified ? "diversified" : "default");
wipe:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(expected, sizeof expected);
    return result;
}

/* Walkthrough step 8: the card still has the default admin key; after the answer under it, the tool writes
 * the diversified key to the card and checks that one too. Without diversification the default key stays. */
static int answer_admin_challenges(enrollment *e)
{
    if (check_challenge_response(e, e->enroll_request, 0, "admin challenge") != 0) {
        return 1;
    }
    if (e->diversify_admin_key) {
        return check_challenge_response(e, e->enroll_request, 1, "admin challenge");
    }
    return 0;
}

/* ---- 7. certificates: CSRs in, PKCS#7 out ------------------------------------------------------------- */

static EVP_PKEY *rsa_key(int64_t bits)
{
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1 ||
        EVP_PKEY_keygen(ctx, &key) != 1) {
        key = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return key;
}

/* CM's Subject as "CN=x, O=y" pairs; anything else (or nothing) becomes CN=<card id>. Escaped commas are
 * not handled: enough for an example. */
static X509_NAME *subject_name(const char *subject, const char *card_id)
{
    X509_NAME *name = X509_NAME_new();
    char copy[512];
    snprintf(copy, sizeof copy, "%s", subject);
    char *save = NULL;
    int entries = 0;
    for (char *part = strtok_r(copy, ",", &save); name != NULL && part != NULL; part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');
        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        char *key = part, *value = eq + 1;
        while (isspace((unsigned char)*key)) key++;
        while (isspace((unsigned char)*value)) value++;
        for (char *end = eq - 1; end >= key && isspace((unsigned char)*end); end--) *end = '\0';
        if (X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8, (const unsigned char *)value, -1, -1, 0) == 1) {
            entries++;
        }
    }
    if (name != NULL && entries == 0) {
        X509_NAME_free(name);
        name = X509_NAME_new();
        if (name != NULL &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)card_id, -1, -1, 0) != 1) {
            X509_NAME_free(name);
            name = NULL;
        }
    }
    ERR_clear_error(); /* an unknown attribute name above is skipped, not an error */
    return name;
}

/* One PKCS#10 request as the option describes it, DER in *der_out (free with OPENSSL_free). The key is kept
 * in e->keys to match the certificate later. */
static int build_csr(enrollment *e, const cm_object *option, size_t index, uint8_t **der_out, int *der_len)
{
    char subject[512], algorithm[32], hash[32], friendly[256];
    int64_t bits = 0;
    field_or_empty(option, "Subject", subject, sizeof subject);
    field_or_empty(option, "KeyAlgorithmName", algorithm, sizeof algorithm);
    field_or_empty(option, "HashAlgorithmName", hash, sizeof hash);
    field_or_empty(option, "FriendlyName", friendly, sizeof friendly);
    if (cm_object_get_int(option, "KeySize", &bits) != CM_STATUS_OK) {
        bits = 2048;
    }
    if (strcmp(algorithm, "RSA") != 0 && algorithm[0] != '\0') {
        return failed("CSR %zu asks for a %s key; this example makes RSA keys only", index + 1, algorithm);
    }
    if (bits < 1024 || bits > 16384) {
        return failed("CSR %zu asks for an RSA key of %" PRId64 " bits", index + 1, bits);
    }
    const EVP_MD *md = EVP_get_digestbyname(hash[0] != '\0' ? hash : "SHA256");
    if (md == NULL) {
        return failed("CSR %zu asks for hash algorithm \"%s\", which OpenSSL does not know", index + 1, hash);
    }
    printf("CSR %zu: RSA %" PRId64 ", %s, subject \"%s\"%s%s%s\n", index + 1, bits, hash[0] != '\0' ? hash : "SHA256",
           subject, friendly[0] != '\0' ? " (" : "", friendly, friendly[0] != '\0' ? ")" : "");

    EVP_PKEY *key = rsa_key(bits);
    if (key == NULL) {
        return openssl_failed("generating the RSA key");
    }
    e->keys[e->key_count++] = key;

    int result = 0;
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = subject_name(subject, e->card_id);
    if (req == NULL || name == NULL || X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_subject_name(req, name) != 1 ||
        X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, md) <= 0) {
        result = openssl_failed("building the PKCS#10 request");
    } else {
        *der_out = NULL;
        *der_len = i2d_X509_REQ(req, der_out);
        if (*der_len <= 0) {
            result = openssl_failed("DER-encoding the PKCS#10 request");
        }
    }
    X509_NAME_free(name);
    X509_REQ_free(req);
    return result;
}

static int load_ca(enrollment *e)
{
    if (e->opt->ca_file == NULL) {
        return 0;
    }
    e->trusted_ca = X509_STORE_new();
    if (e->trusted_ca == NULL || X509_STORE_load_locations(e->trusted_ca, e->opt->ca_file, NULL) != 1) {
        return openssl_failed("loading the CA file given with --ca");
    }
    return 0;
}

/* Index of the generated key whose public half the certificate carries, or -1. */
static int matching_key(const enrollment *e, X509 *cert)
{
    EVP_PKEY *public_key = X509_get0_pubkey(cert);
    for (size_t i = 0; public_key != NULL && i < e->key_count; i++) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
        if (EVP_PKEY_eq(public_key, e->keys[i]) == 1)
#else
        if (EVP_PKEY_cmp(public_key, e->keys[i]) == 1)
#endif
        {
            return (int)i;
        }
    }
    return -1;
}

/* A PKCS#7 answer: a degenerate SignedData holding the issued certificate and its chain. Finds the
 * end-entity certificate, verifies it against --ca and matches its key with one of the CSRs. */
static int check_pkcs7(enrollment *e, const uint8_t *der, size_t der_len, size_t index, const char *template_name)
{
    const unsigned char *p = der;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)der_len);
    if (p7 == NULL || !PKCS7_type_is_signed(p7) || p7->d.sign == NULL || p7->d.sign->cert == NULL) {
        PKCS7_free(p7);
        return openssl_failed("reading the PKCS#7 (not a SignedData with certificates)");
    }
    STACK_OF(X509) *certs = p7->d.sign->cert;
    X509 *leaf = NULL;
    for (int i = 0; i < sk_X509_num(certs) && leaf == NULL; i++) {
        if (X509_check_ca(sk_X509_value(certs, i)) == 0) { /* not a CA: the end entity */
            leaf = sk_X509_value(certs, i);
        }
    }
    if (leaf == NULL) {
        PKCS7_free(p7);
        return failed("certificate %zu: the PKCS#7 holds no end-entity certificate", index + 1);
    }
    char subject[256], issuer[256];
    X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof subject);
    X509_NAME_oneline(X509_get_issuer_name(leaf), issuer, sizeof issuer);

    int result = 0;
    const char *chain = "chain not checked (no --ca)";
    if (e->trusted_ca != NULL) {
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        if (ctx == NULL || X509_STORE_CTX_init(ctx, e->trusted_ca, leaf, certs) != 1) {
            result = openssl_failed("preparing the chain check");
        } else {
            /* The --ca file may be an intermediate CA: trust it as an anchor without its root. */
            X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
            if (X509_verify_cert(ctx) != 1) {
                int error = X509_STORE_CTX_get_error(ctx);
                result = failed("certificate %zu (%s, %s): does not verify against %s: %s", index + 1, template_name,
                                subject, e->opt->ca_file, X509_verify_cert_error_string(error));
            }
            chain = "verified against the CA";
        }
        X509_STORE_CTX_free(ctx);
    }
    int key = result == 0 ? matching_key(e, leaf) : -1;
    if (result == 0 && key < 0) {
        result = failed("certificate %zu (%s): its public key is none of the keys we generated", index + 1,
                        template_name);
    }
    if (result == 0) {
        printf("certificate %zu: %s, PKCS#7, subject %s, issuer %s, %s, key of CSR %d\n", index + 1, template_name,
               subject, issuer, chain, key + 1);
    }
    PKCS7_free(p7);
    return result;
}

/* Checks one item of the certificate data answer; *verified_out counts the PKCS#7 certificates checked. */
static int check_certificate(enrollment *e, const cm_object *item, size_t index, size_t *verified_out)
{
    char template_name[256], error[512];
    int32_t is_pkcs7 = 0, is_pfx = 0;
    size_t len = 0;
    field_or_empty(item, "TemplateCommonName", template_name, sizeof template_name);
    field_or_empty(item, "Error", error, sizeof error);
    if (error[0] != '\0') {
        return failed("certificate %zu (%s): CM reports an error: %s", index + 1, template_name, error);
    }
    if (cm_object_get_bool(item, "isPkcs7", &is_pkcs7) != CM_STATUS_OK) {
        is_pkcs7 = 0;
    }
    if (cm_object_get_bool(item, "isPfx", &is_pfx) != CM_STATUS_OK) {
        is_pfx = 0;
    }
    if (is_pfx) {
        /* Server-generated key: a PKCS#12 under the PFX password; a tool imports it onto the card. */
        printf("certificate %zu: %s, PFX (server-generated key): to be imported, not checked here\n", index + 1,
               template_name);
        return 0;
    }
    if (!is_pkcs7) {
        printf("certificate %zu: %s, neither PKCS#7 nor PFX: skipped\n", index + 1, template_name);
        return 0;
    }
    /* Size query first, then the bytes. */
    cm_status rc = cm_object_get_bytes(item, "Pkcs7", NULL, 0, &len);
    if (rc != CM_STATUS_BUFFER_TOO_SMALL && rc != CM_STATUS_OK) {
        return cm_failed("reading Pkcs7", rc);
    }
    uint8_t *der = malloc(len > 0 ? len : 1);
    if (der == NULL) {
        return failed("out of memory");
    }
    rc = cm_object_get_bytes(item, "Pkcs7", der, len, &len);
    int result = rc != CM_STATUS_OK ? cm_failed("reading Pkcs7", rc) : check_pkcs7(e, der, len, index, template_name);
    free(der);
    if (result == 0) {
        (*verified_out)++;
    }
    return result;
}

static int enroll_certificates(enrollment *e)
{
    cm_list *options = NULL;
    cm_status rc = cm_session_get_csr_options(e->session, e->enroll_request, &options);
    if (rc != CM_STATUS_OK) {
        return cm_failed("reading the certificate request generation options", rc);
    }
    size_t count = list_count(options);
    printf("CSR options: %zu\n", count);
    if (count > MAX_CSRS) {
        cm_list_free(options);
        return failed("CM asks for %zu certificate requests; this example makes at most %d", count, MAX_CSRS);
    }
    cm_bytes csrs[MAX_CSRS];
    uint8_t *ders[MAX_CSRS] = {NULL};
    int result = 0;
    for (size_t i = 0; i < count && result == 0; i++) {
        cm_object *option = NULL;
        int der_len = 0;
        rc = cm_list_get(options, i, &option);
        result = rc != CM_STATUS_OK ? cm_failed("reading a CSR option", rc)
                                    : build_csr(e, option, i, &ders[i], &der_len);
        csrs[i].data = ders[i];
        csrs[i].len = result == 0 ? (size_t)der_len : 0;
        cm_object_free(option);
    }
    cm_list_free(options);

    cm_list *certificates = NULL;
    if (result == 0) {
        /* Sent at most once and without a reconcile: CM hands certificate data out only once. */
        rc = cm_session_submit_certificate_requests(e->session, e->enroll_request, csrs, count, NULL,
                                                    "enroll.c example", &certificates);
        if (rc != CM_STATUS_OK) {
            result = cm_failed("submitting the certificate requests", rc);
        }
    }
    for (size_t i = 0; i < count; i++) {
        OPENSSL_free(ders[i]);
    }
    if (result != 0) {
        return result;
    }
    size_t returned = list_count(certificates), verified = 0;
    printf("certificates returned: %zu (for %zu requests)\n", returned, count);
    for (size_t i = 0; i < returned && result == 0; i++) {
        cm_object *item = NULL;
        rc = cm_list_get(certificates, i, &item);
        result = rc != CM_STATUS_OK ? cm_failed("reading a certificate", rc) : check_certificate(e, item, i, &verified);
        cm_object_free(item);
    }
    cm_list_free(certificates);
    if (result == 0 && returned < count) {
        result = failed("CM returned %zu certificates for %zu requests", returned, count);
    }
    if (result == 0) {
        printf("%zu certificate%s %s\n", verified, verified == 1 ? "" : "s",
               e->trusted_ca != NULL ? "verified against the CA" : "read");
    }
    return result;
}

/* ---- 8. the card in CM -------------------------------------------------------------------------------- */

static int show_card(enrollment *e, const char *label)
{
    cm_smartcard *card = NULL;
    cm_status rc = cm_session_get_smartcard(e->session, e->smartcard_uuid, &card);
    if (rc != CM_STATUS_OK) {
        return cm_failed("reading the smart card", rc);
    }
    if (card == NULL) {
        return failed("CM does not know smart card %s", e->smartcard_uuid);
    }
    int32_t status = cm_smartcard_status(card);
    char name[64] = "";
    size_t len = 0;
    cm_object *o = NULL;
    if (cm_smartcard_to_object(card, &o) == CM_STATUS_OK &&
        cm_object_get_enum_name(o, "Status", name, sizeof name, &len) != CM_STATUS_OK) {
        name[0] = '\0'; /* only Retired (6) is documented */
    }
    cm_object_free(o);
    cm_smartcard_free(card);

    cm_list *operations = NULL;
    rc = cm_session_get_smartcard_operations(e->session, e->smartcard_uuid, &operations);
    if (rc != CM_STATUS_OK) {
        return cm_failed("reading the card's operations", rc);
    }
    char list[256] = "";
    size_t count = list_count(operations);
    for (size_t i = 0; i < count; i++) {
        char op[64];
        if (cm_list_get_string(operations, i, op, sizeof op, &len) == CM_STATUS_OK) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s", used > 0 ? ", " : "", op);
        }
    }
    cm_list_free(operations);
    printf("%s: smartcard %s Status %" PRId32 "%s%s%s, operations: %s\n", label, e->smartcard_uuid, status,
           name[0] != '\0' ? " (" : "", name, name[0] != '\0' ? ")" : "", count > 0 ? list : "none");
    return 0;
}

/* ---- 9. later in the card's life: Unblock and Retire -------------------------------------------------- */

/* The user blocked the PIN: CM answers the card's challenge so the admin (or the user's self-service tool)
 * can reset the PIN. */
static int unblock(enrollment *e)
{
    char request[CM_UUID_BUFFER_SIZE] = "";
    if (create_request(e, "Unblock", request, sizeof request) != 0 || wait_until_approved(e, "Unblock", request) != 0 ||
        check_challenge_response(e, request, e->diversify_admin_key, "unblock challenge") != 0) {
        return 1;
    }
    return complete_request(e, "Unblock", request);
}

static int retire(enrollment *e)
{
    char request[CM_UUID_BUFFER_SIZE] = "";
    if (create_request(e, "Retire", request, sizeof request) != 0 || wait_until_approved(e, "Retire", request) != 0) {
        return 1;
    }
    cm_object *card = NULL;
    cm_status rc = cm_session_set_smartcard_status(e->session, request, e->smartcard_uuid, "Retired", &card);
    if (rc != CM_STATUS_OK) {
        return cm_failed("setting the card's status to Retired", rc);
    }
    int64_t status = -1;
    if (card != NULL) {
        if (cm_object_get_int(card, "Status", &status) != CM_STATUS_OK) {
            status = -1;
        }
        cm_object_free(card);
    }
    printf("card retired (Status %" PRId64 ")\n", status);
    return complete_request(e, "Retire", request);
}

/* ---- main ---------------------------------------------------------------------------------------------- */

static void enrollment_free(enrollment *e)
{
    OPENSSL_cleanse(e->default_admin_key, sizeof e->default_admin_key);
    for (size_t i = 0; i < e->key_count; i++) {
        EVP_PKEY_free(e->keys[i]);
    }
    X509_STORE_free(e->trusted_ca);
    cm_session_free(e->session);
}

static int usage(const char *program)
{
    fprintf(stderr,
            "usage: %s [--reader NAME] [--template NAME] [--ca FILE] [--timeout SECONDS] SERVER_URL\n"
            "(cm-smartcard %s; authentication from CM_AUTH, CM_USER, CM_PASSWORD, CM_INSECURE)\n",
            program, cm_version());
    return 2;
}

static int parse_options(int argc, char **argv, options *opt)
{
    opt->template_name = "Smartcard User";
    opt->timeout_seconds = 120;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(arg, "--reader") == 0 && has_value) {
            opt->reader = argv[++i];
        } else if (strcmp(arg, "--template") == 0 && has_value) {
            opt->template_name = argv[++i];
        } else if (strcmp(arg, "--ca") == 0 && has_value) {
            opt->ca_file = argv[++i];
        } else if (strcmp(arg, "--timeout") == 0 && has_value) {
            char *end = NULL;
            opt->timeout_seconds = strtol(argv[++i], &end, 10);
            if (*end != '\0' || opt->timeout_seconds < 0 || opt->timeout_seconds > 86400) {
                return -1;
            }
        } else if (arg[0] == '-' || opt->server_url != NULL) {
            return -1;
        } else {
            opt->server_url = arg;
        }
    }
    const char *auth = getenv("CM_AUTH");
    if (auth != NULL && strcmp(auth, "none") != 0 && strcmp(auth, "basic") != 0 && strcmp(auth, "ntlm") != 0 &&
        strcmp(auth, "negotiate") != 0) {
        fprintf(stderr, "CM_AUTH must be none, basic, ntlm or negotiate\n");
        return -1;
    }
    return opt->server_url != NULL ? 0 : -1;
}

int main(int argc, char **argv)
{
    options opt;
    memset(&opt, 0, sizeof opt);
    if (parse_options(argc, argv, &opt) != 0) {
        return usage(argv[0]);
    }
    if (cm_abi_version() != CM_ABI_VERSION) {
        fprintf(stderr, "library ABI %" PRIu32 " does not match the header's %d\n", cm_abi_version(), CM_ABI_VERSION);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, also into a pipe: progress is visible as it happens */

    enrollment e;
    memset(&e, 0, sizeof e);
    e.opt = &opt;
    int failure = load_ca(&e)
               || read_card(&e)
               || open_session(&e)
               || find_template(&e)
               || show_enroll_policy(&e)
               || create_request(&e, "Enroll", e.enroll_request, sizeof e.enroll_request)
               || wait_until_approved(&e, "Enroll", e.enroll_request)
               || bind_card(&e)
               || read_smartcard_config(&e)
               || answer_admin_challenges(&e)
               || enroll_certificates(&e)
               || complete_request(&e, "Enroll", e.enroll_request)
               || show_card(&e, "enrolled")
               || unblock(&e)
               || retire(&e)
               || show_card(&e, "final card status");
    enrollment_free(&e);
    if (!failure) {
        printf("done: card %s enrolled, unblocked and retired\n", e.card_id);
    }
    return failure ? 1 : 0;
}
