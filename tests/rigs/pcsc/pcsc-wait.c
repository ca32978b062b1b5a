/*
 * pcsc-wait: tiny PC/SC helper for the cm-smartcard test rig.
 *
 *   pcsc-wait [-t SECONDS] present READER [ATRHEX]   wait until READER holds a card (optionally this ATR)
 *   pcsc-wait [-t SECONDS] empty READER              wait until READER exists and is empty
 *   pcsc-wait [-t SECONDS] exists READER             wait until READER exists
 *   pcsc-wait [-t SECONDS] list                      wait for pcscd, print one reader name per line
 *   pcsc-wait [-t SECONDS] hold READER HOLDSECONDS   connect EXCLUSIVE, print "held", sleep, disconnect
 *
 * Exit: 0 done, 1 timeout, 2 usage or unexpected error.
 * Build: cc -O2 -o pcsc-wait pcsc-wait.c $(pkg-config --cflags --libs libpcsclite)
 * The client library honours PCSCLITE_CSOCK_NAME (private pcscd instance).
 */
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int hex_to_bin(const char *hex, unsigned char *out, size_t max) {
    size_t n = 0;
    while (*hex) {
        if (!isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1]) || n >= max) return -1;
        unsigned int b;
        sscanf(hex, "%2x", &b);
        out[n++] = (unsigned char)b;
        hex += 2;
    }
    return (int)n;
}

/* 1 = reader listed, 0 = not listed, -1 = error (context must be re-established) */
static int reader_listed(SCARDCONTEXT ctx, const char *reader, int print) {
    DWORD len = 0;
    LONG rv = SCardListReaders(ctx, NULL, NULL, &len);
    if (rv == (LONG)SCARD_E_NO_READERS_AVAILABLE) return 0;
    if (rv != SCARD_S_SUCCESS) return -1;
    char *buf = malloc(len + 1);
    if (!buf) return -1;
    rv = SCardListReaders(ctx, NULL, buf, &len);
    if (rv != SCARD_S_SUCCESS) { free(buf); return rv == (LONG)SCARD_E_NO_READERS_AVAILABLE ? 0 : -1; }
    int found = 0;
    for (char *p = buf; *p; p += strlen(p) + 1) {
        if (print) printf("%s\n", p);
        if (reader && strcmp(p, reader) == 0) found = 1;
    }
    free(buf);
    return found;
}

int main(int argc, char **argv) {
    double timeout = 10.0;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-t") == 0) { timeout = atof(argv[i + 1]); i += 2; }
    if (i >= argc) goto usage;
    const char *mode = argv[i++];
    const char *reader = i < argc ? argv[i++] : NULL;
    const char *extra = i < argc ? argv[i++] : NULL;
    unsigned char want_atr[64];
    int want_atr_len = -1;
    if (strcmp(mode, "list") != 0 && !reader) goto usage;
    if (strcmp(mode, "present") == 0 && extra) {
        want_atr_len = hex_to_bin(extra, want_atr, sizeof want_atr);
        if (want_atr_len < 0) goto usage;
    }
    if (strcmp(mode, "hold") == 0 && !extra) goto usage;

    double deadline = now() + timeout;
    SCARDCONTEXT ctx = 0;
    int have_ctx = 0;
    for (;;) {
        if (!have_ctx) {
            if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) == SCARD_S_SUCCESS) have_ctx = 1;
        }
        if (have_ctx) {
            if (strcmp(mode, "list") == 0) {
                int r = reader_listed(ctx, NULL, 1);
                if (r >= 0) { SCardReleaseContext(ctx); return 0; }
            } else {
                int listed = reader_listed(ctx, reader, 0);
                if (listed < 0) { SCardReleaseContext(ctx); have_ctx = 0; }
                else if (listed == 1) {
                    if (strcmp(mode, "exists") == 0) { SCardReleaseContext(ctx); return 0; }
                    SCARD_READERSTATE rs;
                    memset(&rs, 0, sizeof rs);
                    rs.szReader = reader;
                    rs.dwCurrentState = SCARD_STATE_UNAWARE;
                    LONG rv = SCardGetStatusChange(ctx, 0, &rs, 1);
                    if (rv == SCARD_S_SUCCESS) {
                        DWORD st = rs.dwEventState;
                        if (strcmp(mode, "empty") == 0 && (st & SCARD_STATE_EMPTY)) { SCardReleaseContext(ctx); return 0; }
                        if ((strcmp(mode, "present") == 0 || strcmp(mode, "hold") == 0) && (st & SCARD_STATE_PRESENT) &&
                            !(st & SCARD_STATE_MUTE)) {
                            if (want_atr_len < 0 ||
                                ((int)rs.cbAtr == want_atr_len && memcmp(rs.rgbAtr, want_atr, (size_t)want_atr_len) == 0)) {
                                if (strcmp(mode, "present") == 0) { SCardReleaseContext(ctx); return 0; }
                                SCARDHANDLE h;
                                DWORD proto;
                                rv = SCardConnect(ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
                                if (rv != SCARD_S_SUCCESS) {
                                    fprintf(stderr, "pcsc-wait: SCardConnect EXCLUSIVE failed: 0x%08lX\n", (unsigned long)rv);
                                    SCardReleaseContext(ctx);
                                    return 2;
                                }
                                printf("held\n");
                                fflush(stdout);
                                sleep((unsigned)atoi(extra));
                                SCardDisconnect(h, SCARD_LEAVE_CARD);
                                SCardReleaseContext(ctx);
                                return 0;
                            }
                        }
                    } else if (rv != (LONG)SCARD_E_TIMEOUT) {
                        SCardReleaseContext(ctx);
                        have_ctx = 0;
                    }
                }
            }
        }
        if (now() >= deadline) {
            fprintf(stderr, "pcsc-wait: timeout after %.1f s waiting for %s %s\n", timeout, mode, reader ? reader : "");
            if (have_ctx) SCardReleaseContext(ctx);
            return 1;
        }
        usleep(50000);
    }
usage:
    fprintf(stderr, "usage: pcsc-wait [-t SECONDS] present READER [ATRHEX] | empty READER | exists READER | list | hold READER SECONDS\n");
    return 2;
}
