/* Card-path benchmark: the same card operations through cm-smartcard and through raw PC/SC calls, as a C
 * program written directly against libpcsclite would make them. Driven by scripts/bench-card.sh.
 * Usage: bench_card raw|ours atr|id|list READER CALLS
 * Prints "<client CPU ns per call> <failed calls>". Only bench_loop runs the calls, so callgrind can count
 * its instructions alone (--toggle-collect=bench_loop). */
#define _POSIX_C_SOURCE 200809L
#include "cm_smartcard.h"

#include <winscard.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char *reader;

/* Raw: context, connect, SCardStatus (fixed buffers), disconnect, release. */
static int raw_atr(void) {
  SCARDCONTEXT ctx;
  if (SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &ctx) != SCARD_S_SUCCESS) return 1;
  SCARDHANDLE card;
  DWORD proto;
  LONG rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &proto);
  if (rv == SCARD_S_SUCCESS) {
    char name[1024];
    BYTE atr[64];
    DWORD name_len = sizeof name, state, atr_len = sizeof atr;
    rv = SCardStatus(card, name, &name_len, &state, &proto, atr, &atr_len);
    SCardDisconnect(card, SCARD_LEAVE_CARD);
  }
  SCardReleaseContext(ctx);
  return rv != SCARD_S_SUCCESS;
}

static LONG apdu(SCARDHANDLE card, DWORD proto, const BYTE *cmd, DWORD len, BYTE *resp, DWORD *resp_len) {
  const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
  return SCardTransmit(card, pci, cmd, len, NULL, resp, resp_len);
}

/* Raw card ID with the library's APDUs on a GIDS card, in Windows' order: SELECT PIV (refused), SELECT GIDS,
 * GET DATA A012/DF20, inside a transaction. */
static int raw_id(void) {
  static const BYTE select_piv[] = {0x00, 0xA4, 0x04, 0x00, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00,
                                    0x00, 0x10, 0x00, 0x01, 0x00, 0x00};
  static const BYTE select_gids[] = {0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00,
                                     0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x00};
  static const BYTE get_cardid[] = {0x00, 0xCB, 0xA0, 0x12, 0x04, 0x5C, 0x02, 0xDF, 0x20, 0x00};
  SCARDCONTEXT ctx;
  if (SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &ctx) != SCARD_S_SUCCESS) return 1;
  SCARDHANDLE card;
  DWORD proto;
  int bad = 1;
  if (SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &proto) ==
      SCARD_S_SUCCESS) {
    if (SCardBeginTransaction(card) == SCARD_S_SUCCESS) {
      BYTE resp[258];
      DWORD n = sizeof resp;
      apdu(card, proto, select_piv, sizeof select_piv, resp, &n);
      n = sizeof resp;
      if (apdu(card, proto, select_gids, sizeof select_gids, resp, &n) == SCARD_S_SUCCESS && n >= 2 &&
          resp[n - 2] == 0x90) {
        n = sizeof resp;
        if (apdu(card, proto, get_cardid, sizeof get_cardid, resp, &n) == SCARD_S_SUCCESS && n == 21 &&
            resp[0] == 0xDF && resp[1] == 0x20)
          bad = 0;
      }
      SCardEndTransaction(card, SCARD_LEAVE_CARD);
    }
    SCardDisconnect(card, SCARD_LEAVE_CARD);
  }
  SCardReleaseContext(ctx);
  return bad;
}

/* Raw reader list with states: context, SCardListReaders (fixed buffer), SCardGetStatusChange(0), release. */
static int raw_list(void) {
  SCARDCONTEXT ctx;
  if (SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &ctx) != SCARD_S_SUCCESS) return 1;
  char names[4096];
  DWORD len = sizeof names;
  int bad = 1;
  if (SCardListReaders(ctx, NULL, names, &len) == SCARD_S_SUCCESS) {
    SCARD_READERSTATE states[16];
    DWORD count = 0;
    for (char *p = names; *p && count < 16; p += strlen(p) + 1) {
      memset(&states[count], 0, sizeof states[count]);
      states[count].szReader = p;
      states[count].dwCurrentState = SCARD_STATE_UNAWARE;
      count++;
    }
    LONG rv = SCardGetStatusChange(ctx, 0, states, count);
    bad = rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT;
  }
  SCardReleaseContext(ctx);
  return bad;
}

static int ours_atr(void) {
  char buf[CM_ATR_BUFFER_SIZE];
  size_t len = 0;
  return cm_read_card_atr(reader, buf, sizeof buf, &len) != CM_STATUS_OK;
}

static int ours_id(void) {
  char buf[CM_UUID_BUFFER_SIZE];
  size_t len = 0;
  return cm_read_card_id(reader, CM_GUID_ORDER_WINDOWS, buf, sizeof buf, &len) != CM_STATUS_OK;
}

static int ours_list(void) {
  cm_reader_list *list = NULL;
  int bad = cm_list_readers(&list) != CM_STATUS_OK;
  cm_reader_list_free(list);
  return bad;
}

__attribute__((noinline)) int bench_loop(int (*op)(void), long calls) {
  int failed = 0;
  for (long i = 0; i < calls; i++) failed += op();
  return failed;
}

static double cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s raw|ours atr|id|list READER CALLS\n", argv[0]);
    return 2;
  }
  int ours = strcmp(argv[1], "ours") == 0;
  const char *what = argv[2];
  reader = argv[3];
  long calls = atol(argv[4]);
  int (*op)(void) = NULL;
  if (strcmp(what, "atr") == 0) op = ours ? ours_atr : raw_atr;
  if (strcmp(what, "id") == 0) op = ours ? ours_id : raw_id;
  if (strcmp(what, "list") == 0) op = ours ? ours_list : raw_list;
  if (op == NULL || calls < 1) return 2;
  op(); /* warm-up: library loading and first-call setup are not part of the per-call cost */
  double t0 = cpu_ns();
  int failed = bench_loop(op, calls);
  double t1 = cpu_ns();
  printf("%.0f %d\n", (t1 - t0) / (double)calls, failed);
  return failed != 0;
}
