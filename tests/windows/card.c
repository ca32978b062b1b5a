/* Card exports of the Windows DLL against a real pcscd + vpcd + virtual cards (the Wine 10 stage of
 * tests/windows/run.sh sets them up inside its Debian 13 root; the names and values below are that rig's).
 *
 * Usage: card MODE
 *   main     readers (incl. the non-ASCII one, byte-exact UTF-8), ATRs, card ids (GIDS and PIV, both byte
 *            orders), reader selection, wait (present, timeout, cancel from another thread), card removed
 *            in the middle of a read
 *   nosvc    pcscd is stopped: every card export returns a clear PC/SC status
 *   again    pcscd was restarted: the card exports work again (cards reconnect by themselves)
 *   x86      the i686 DLL under Wine 10, whose 32-bit winscard is broken (WineHQ bug 54661): every card
 *            export returns a PC/SC status (100-199) or OK, and never crashes
 * Ends with "N passed, M failed"; exit status 1 on failure. */
#include "cm_smartcard.h"
#define CHECK_ON_FAIL() check_print_last_error()
#include "../c/check.h"

#include <windows.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The rig (tests/windows/wine10-stage.sh): readers in pcscd's order. */
static const char *const GIDS_READER = "Virtual PCD 00 00";
static const char *const PIV_READER = "Virtual PCD 00 01";
static const char *const EMPTY_READER = "Spare Reader 00 00";
static const char *const PULLED_READER = "Spare Reader 00 01"; /* its card leaves at the GET DATA */
/* "Lecteur virtuel é 00 00", é as UTF-8: listed last, so Wine 10's bug that drops the reader listed
 * after a non-ASCII name only hides "Lecteur virtuel é 00 01", which this test does not use. */
static const char *const UTF8_READER = "Lecteur virtuel \xc3\xa9 00 00";

static const char *const GIDS_ATR = "3b8d0180fba000000397425446590301c8";
static const char *const PIV_ATR = "3bf81300008131fe15597562696b657934d4";
/* GIDS DF20 bytes 3ff188bcba833740826246eba1291c6e */
static const char *const GIDS_ID_WINDOWS = "bc88f13f-83ba-4037-8262-46eba1291c6e";
static const char *const GIDS_ID_RFC = "3ff188bc-ba83-3740-8262-46eba1291c6e";
/* PIV CHUID GUID bytes 00112233445566778899aabbccddeeff */
static const char *const PIV_ID_WINDOWS = "33221100-5544-7766-8899-aabbccddeeff";
static const char *const PIV_ID_RFC = "00112233-4455-6677-8899-aabbccddeeff";
/* The non-ASCII reader's GIDS card: bytes 0102030405060708090a0b0c0d0e0f10 */
static const char *const UTF8_ID_WINDOWS = "04030201-0605-0807-090a-0b0c0d0e0f10";

/* Lowercase hex without separators, for comparing ATR notations. */
static void packed_hex(const char *in, char *out, size_t out_len)
{
    size_t n = 0;
    for (; *in != '\0' && n + 1 < out_len; in++) {
        char c = *in;
        if (c >= 'A' && c <= 'F') {
            c = (char)(c - 'A' + 'a');
        }
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
            out[n++] = c;
        }
    }
    out[n] = '\0';
}

static int same_atr(const char *got, const char *want)
{
    char a[128], b[128];
    packed_hex(got, a, sizeof a);
    packed_hex(want, b, sizeof b);
    return strcmp(a, b) == 0;
}

#define IS_PCSC_STATUS(rc) ((rc) >= 100 && (rc) <= 199)

static void check_atr(const char *reader, const char *want)
{
    char buf[CM_ATR_BUFFER_SIZE] = "";
    size_t len = 0;
    cm_status rc = cm_read_card_atr(reader, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_OK && same_atr(buf, want), "cm_read_card_atr(%s): %d %s", reader ? reader : "NULL",
          (int)rc, buf);
}

static void check_id(const char *reader, uint32_t order, const char *want)
{
    char buf[CM_UUID_BUFFER_SIZE] = "";
    size_t len = 0;
    cm_status rc = cm_read_card_id(reader, order, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_OK && strcmp(buf, want) == 0 && len == 36, "cm_read_card_id(%s, %" PRIu32 "): %d '%s'",
          reader ? reader : "NULL", order, (int)rc, buf);
}

struct wait_args {
    const char *reader;
    uint32_t timeout_ms;
    cm_status rc;
};

static DWORD WINAPI wait_thread(LPVOID p)
{
    struct wait_args *a = p;
    char buf[256];
    size_t len = 0;
    a->rc = cm_wait_for_card(a->reader, a->timeout_ms, buf, sizeof buf, &len);
    return 0;
}

static void main_mode(void)
{
    char buf[512];
    size_t len = 0;
    cm_status rc;

    /* Readers: exact UTF-8 names (the wide WinSCard functions), presence and ATRs. */
    cm_reader_list *list = NULL;
    rc = cm_list_readers(&list);
    CHECK(rc == CM_STATUS_OK && list != NULL, "cm_list_readers: %d", (int)rc);
    uint32_t count = cm_reader_list_count(list);
    int seen_gids = 0, seen_piv = 0, seen_empty = 0, seen_utf8 = 0;
    for (uint32_t i = 0; i < count; i++) {
        rc = cm_reader_list_name(list, i, buf, sizeof buf, &len);
        CHECK(rc == CM_STATUS_OK && strlen(buf) == len, "reader %" PRIu32 " name: %d", i, (int)rc);
        char atr[CM_ATR_BUFFER_SIZE] = "";
        size_t atr_len = 0;
        cm_status arc = cm_reader_list_atr(list, i, atr, sizeof atr, &atr_len);
        int32_t present = cm_reader_list_card_present(list, i);
        printf("reader %" PRIu32 ": '%s' present %" PRId32 " atr %s\n", i, buf, present, atr);
        CHECK(arc == CM_STATUS_OK, "reader %" PRIu32 " atr: %d", i, (int)arc);
        if (strcmp(buf, GIDS_READER) == 0) {
            seen_gids = 1;
            CHECK(present == 1 && same_atr(atr, GIDS_ATR), "GIDS reader: present %" PRId32 " atr %s", present, atr);
        } else if (strcmp(buf, PIV_READER) == 0) {
            seen_piv = 1;
            CHECK(present == 1 && same_atr(atr, PIV_ATR), "PIV reader: present %" PRId32 " atr %s", present, atr);
        } else if (strcmp(buf, EMPTY_READER) == 0) {
            seen_empty = 1;
            CHECK(present == 0 && atr_len == 0, "empty reader: present %" PRId32 " atr %s", present, atr);
        } else if (strcmp(buf, UTF8_READER) == 0) {
            seen_utf8 = 1;
            CHECK(present == 1 && same_atr(atr, GIDS_ATR), "non-ASCII reader: present %" PRId32, present);
        }
    }
    CHECK(seen_gids && seen_piv && seen_empty, "ASCII readers listed: %d %d %d", seen_gids, seen_piv, seen_empty);
    CHECK(seen_utf8, "the non-ASCII reader is listed with its exact UTF-8 name (%" PRIu32 " readers)", count);
    CHECK(cm_reader_list_card_present(list, count) == -1, "index past the end");
    CHECK(cm_reader_list_name(list, count, buf, sizeof buf, &len) != CM_STATUS_OK, "name past the end");
    cm_reader_list_free(list);

    /* ATR and card id: GIDS and PIV, both byte orders; the first reader with a card; the non-ASCII reader. */
    check_atr(GIDS_READER, GIDS_ATR);
    check_atr(PIV_READER, PIV_ATR);
    check_atr(NULL, GIDS_ATR);
    check_atr(UTF8_READER, GIDS_ATR);
    check_id(GIDS_READER, CM_GUID_ORDER_WINDOWS, GIDS_ID_WINDOWS);
    check_id(GIDS_READER, CM_GUID_ORDER_RFC4122, GIDS_ID_RFC);
    check_id(PIV_READER, CM_GUID_ORDER_WINDOWS, PIV_ID_WINDOWS);
    check_id(PIV_READER, CM_GUID_ORDER_RFC4122, PIV_ID_RFC);
    check_id(NULL, CM_GUID_ORDER_WINDOWS, GIDS_ID_WINDOWS);
    check_id(UTF8_READER, CM_GUID_ORDER_WINDOWS, UTF8_ID_WINDOWS);
    /* A unique substring selects a reader, also a non-ASCII one. */
    check_id("virtuel \xc3\xa9 00 00", CM_GUID_ORDER_WINDOWS, UTF8_ID_WINDOWS);
    check_atr("pcd 00 01", PIV_ATR);

    /* Bad reader names and an empty reader. */
    rc = cm_read_card_atr("No Such Reader", buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_PCSC_UNKNOWN_READER, "unknown reader: %d", (int)rc);
    rc = cm_read_card_atr("Virtual PCD", buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_PCSC_UNKNOWN_READER, "ambiguous substring: %d", (int)rc);
    rc = cm_read_card_id(EMPTY_READER, CM_GUID_ORDER_WINDOWS, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_PCSC_NO_CARD, "empty reader: %d", (int)rc);
    /* Size query on the ATR. */
    rc = cm_read_card_atr(GIDS_READER, NULL, 0, &len);
    CHECK(rc == CM_STATUS_BUFFER_TOO_SMALL && len == strlen(GIDS_ATR), "ATR size query: %d len %zu", (int)rc, len);

    /* The card is pulled in the middle of the card-id read (the virtual card closes its socket at GET DATA). */
    rc = cm_read_card_id(PULLED_READER, CM_GUID_ORDER_WINDOWS, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_PCSC_CARD_REMOVED || rc == CM_STATUS_PCSC_NO_CARD, "card removed mid-read: %d", (int)rc);
    printf("card removed mid-read: %d (%s)\n", (int)rc, cm_status_str(rc));

    /* Waits: a present card returns at once with the exact reader name; an empty reader times out. */
    rc = cm_wait_for_card(UTF8_READER, 0, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_OK && strcmp(buf, UTF8_READER) == 0, "wait on the non-ASCII reader: %d '%s'", (int)rc, buf);
    rc = cm_wait_for_card(NULL, 1000, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_OK && strcmp(buf, GIDS_READER) == 0, "wait on any reader: %d '%s'", (int)rc, buf);
    rc = cm_wait_for_card(EMPTY_READER, 300, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_PCSC_TIMEOUT, "wait times out: %d", (int)rc);

    /* Cancel from another thread. */
    struct wait_args args = {EMPTY_READER, CM_WAIT_INFINITE, -1};
    HANDLE t = CreateThread(NULL, 0, wait_thread, &args, 0, NULL);
    CHECK(t != NULL, "CreateThread");
    if (t != NULL) {
        uint32_t cancelled = 0;
        DWORD w = WAIT_TIMEOUT;
        for (int i = 0; i < 100 && w == WAIT_TIMEOUT; i++) {
            Sleep(100);
            cancelled += cm_cancel_waits();
            w = WaitForSingleObject(t, 0);
        }
        w = WaitForSingleObject(t, 10000);
        CHECK(w == WAIT_OBJECT_0 && args.rc == CM_STATUS_PCSC_CANCELLED && cancelled >= 1,
              "cancelled wait: thread %lu rc %d, cm_cancel_waits counted %" PRIu32, (unsigned long)w, (int)args.rc,
              cancelled);
        CloseHandle(t);
    }
}

static void nosvc_mode(void)
{
    char buf[256];
    size_t len = 0;
    cm_reader_list *list = NULL;
    cm_status rc = cm_list_readers(&list);
    CHECK(rc == CM_STATUS_PCSC_NO_SERVICE || rc == CM_STATUS_PCSC_NO_READERS, "pcscd stopped: list %d", (int)rc);
    cm_reader_list_free(list);
    rc = cm_read_card_atr(GIDS_READER, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_PCSC_NO_SERVICE || rc == CM_STATUS_PCSC_NO_READERS, "pcscd stopped: atr %d", (int)rc);
    rc = cm_read_card_id(NULL, CM_GUID_ORDER_WINDOWS, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_PCSC_NO_SERVICE || rc == CM_STATUS_PCSC_NO_READERS, "pcscd stopped: id %d", (int)rc);
    rc = cm_wait_for_card(NULL, 200, buf, sizeof buf, &len);
    CHECK(IS_PCSC_STATUS(rc), "pcscd stopped: wait %d", (int)rc);
    printf("pcscd stopped: %d (%s)\n", (int)rc, cm_status_str(rc));
}

static void again_mode(void)
{
    char buf[256];
    size_t len = 0;
    /* The virtual cards reconnect to the new pcscd within a second or so, each at its own pace: wait for
     * every card this mode reads. */
    const char *const readers[] = {GIDS_READER, UTF8_READER};
    for (size_t r = 0; r < sizeof readers / sizeof readers[0]; r++) {
        cm_status rc = CM_STATUS_PCSC_NO_SERVICE;
        for (int i = 0; i < 50 && rc != CM_STATUS_OK; i++) {
            rc = cm_wait_for_card(readers[r], 200, buf, sizeof buf, &len);
            if (rc != CM_STATUS_OK) {
                Sleep(200);
            }
        }
        CHECK(rc == CM_STATUS_OK, "after the restart the card in %s is back: %d", readers[r], (int)rc);
    }
    check_atr(GIDS_READER, GIDS_ATR);
    check_id(GIDS_READER, CM_GUID_ORDER_WINDOWS, GIDS_ID_WINDOWS);
    check_id(UTF8_READER, CM_GUID_ORDER_WINDOWS, UTF8_ID_WINDOWS);
}

static void x86_mode(void)
{
    char buf[256];
    size_t len = 0;
    cm_reader_list *list = NULL;
    cm_status rc = cm_list_readers(&list);
    printf("x86 cm_list_readers: %d (%s), PC/SC 0x%08" PRIX32 ", %" PRIu32 " readers\n", (int)rc, cm_status_str(rc),
           cm_last_error_pcsc_code(), cm_reader_list_count(list));
    CHECK(rc == CM_STATUS_OK || IS_PCSC_STATUS(rc), "list: %d", (int)rc);
    cm_reader_list_free(list);
    rc = cm_read_card_atr(GIDS_READER, buf, sizeof buf, &len);
    printf("x86 cm_read_card_atr: %d (%s), PC/SC 0x%08" PRIX32 "\n", (int)rc, cm_status_str(rc), cm_last_error_pcsc_code());
    CHECK(rc == CM_STATUS_OK ? same_atr(buf, GIDS_ATR) : IS_PCSC_STATUS(rc), "atr: %d", (int)rc);
    rc = cm_read_card_id(NULL, CM_GUID_ORDER_WINDOWS, buf, sizeof buf, &len);
    CHECK(rc == CM_STATUS_OK ? strcmp(buf, GIDS_ID_WINDOWS) == 0 : IS_PCSC_STATUS(rc), "id: %d", (int)rc);
    rc = cm_wait_for_card(EMPTY_READER, 200, buf, sizeof buf, &len);
    CHECK(IS_PCSC_STATUS(rc), "wait: %d", (int)rc);
    (void)cm_cancel_waits();
    if (rc != CM_STATUS_OK) {
        size_t mlen = 0;
        rc = cm_last_error_message(buf, sizeof buf, &mlen);
        CHECK(rc == CM_STATUS_OK && mlen > 0, "a message explains the PC/SC failure");
        printf("x86 message: %s\n", buf);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc == 2 ? argv[1] : "";
    if (strcmp(mode, "main") == 0) {
        main_mode();
    } else if (strcmp(mode, "nosvc") == 0) {
        nosvc_mode();
    } else if (strcmp(mode, "again") == 0) {
        again_mode();
    } else if (strcmp(mode, "x86") == 0) {
        x86_mode();
    } else {
        fprintf(stderr, "usage: %s main|nosvc|again|x86\n", argv[0]);
        return 2;
    }
    return check_summary();
}
