/* LD_PRELOAD shim for the concurrency test (issue 9, defect 1): counts libpcsclite calls of the process that
 * run at the same time as another one. libpcsclite 1.9.9 walks and edits its context and handle lists without
 * a lock (SCardDisconnect -> SCardRemoveHandle), so concurrent establish/connect/disconnect/release can
 * crash; the crash itself is rare and timing-dependent, an overlap is not. cm-smartcard must never overlap
 * these calls. SCardGetStatusChange (the blocking wait) and SCardCancel are allowed to overlap by design and
 * are not wrapped. At exit the shim prints "pcsc-overlap-shim: calls=N overlapping=M" on stderr. */
#define _GNU_SOURCE
#include <winscard.h>

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int in_flight;
static atomic_long calls, overlapping;

static void enter(void) {
  atomic_fetch_add(&calls, 1);
  if (atomic_fetch_add(&in_flight, 1) != 0) atomic_fetch_add(&overlapping, 1);
}

static LONG leave(LONG rv) {
  atomic_fetch_sub(&in_flight, 1);
  return rv;
}

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

__attribute__((destructor)) static void report(void) {
  fprintf(stderr, "pcsc-overlap-shim: calls=%ld overlapping=%ld\n", atomic_load(&calls), atomic_load(&overlapping));
}

LONG SCardEstablishContext(DWORD scope, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT ctx) {
  static LONG (*f)(DWORD, LPCVOID, LPCVOID, LPSCARDCONTEXT);
  if (!f) f = (LONG(*)(DWORD, LPCVOID, LPCVOID, LPSCARDCONTEXT))next("SCardEstablishContext");
  enter();
  return leave(f(scope, r1, r2, ctx));
}

LONG SCardReleaseContext(SCARDCONTEXT ctx) {
  static LONG (*f)(SCARDCONTEXT);
  if (!f) f = (LONG(*)(SCARDCONTEXT))next("SCardReleaseContext");
  enter();
  return leave(f(ctx));
}

LONG SCardListReaders(SCARDCONTEXT ctx, LPCSTR groups, LPSTR readers, LPDWORD len) {
  static LONG (*f)(SCARDCONTEXT, LPCSTR, LPSTR, LPDWORD);
  if (!f) f = (LONG(*)(SCARDCONTEXT, LPCSTR, LPSTR, LPDWORD))next("SCardListReaders");
  enter();
  return leave(f(ctx, groups, readers, len));
}

LONG SCardConnect(SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD protocols, LPSCARDHANDLE card,
                  LPDWORD active) {
  static LONG (*f)(SCARDCONTEXT, LPCSTR, DWORD, DWORD, LPSCARDHANDLE, LPDWORD);
  if (!f) f = (LONG(*)(SCARDCONTEXT, LPCSTR, DWORD, DWORD, LPSCARDHANDLE, LPDWORD))next("SCardConnect");
  enter();
  return leave(f(ctx, reader, share, protocols, card, active));
}

LONG SCardReconnect(SCARDHANDLE card, DWORD share, DWORD protocols, DWORD init, LPDWORD active) {
  static LONG (*f)(SCARDHANDLE, DWORD, DWORD, DWORD, LPDWORD);
  if (!f) f = (LONG(*)(SCARDHANDLE, DWORD, DWORD, DWORD, LPDWORD))next("SCardReconnect");
  enter();
  return leave(f(card, share, protocols, init, active));
}

LONG SCardDisconnect(SCARDHANDLE card, DWORD disposition) {
  static LONG (*f)(SCARDHANDLE, DWORD);
  if (!f) f = (LONG(*)(SCARDHANDLE, DWORD))next("SCardDisconnect");
  enter();
  return leave(f(card, disposition));
}

LONG SCardBeginTransaction(SCARDHANDLE card) {
  static LONG (*f)(SCARDHANDLE);
  if (!f) f = (LONG(*)(SCARDHANDLE))next("SCardBeginTransaction");
  enter();
  return leave(f(card));
}

LONG SCardEndTransaction(SCARDHANDLE card, DWORD disposition) {
  static LONG (*f)(SCARDHANDLE, DWORD);
  if (!f) f = (LONG(*)(SCARDHANDLE, DWORD))next("SCardEndTransaction");
  enter();
  return leave(f(card, disposition));
}

LONG SCardStatus(SCARDHANDLE card, LPSTR names, LPDWORD names_len, LPDWORD state, LPDWORD protocol, LPBYTE atr,
                 LPDWORD atr_len) {
  static LONG (*f)(SCARDHANDLE, LPSTR, LPDWORD, LPDWORD, LPDWORD, LPBYTE, LPDWORD);
  if (!f) f = (LONG(*)(SCARDHANDLE, LPSTR, LPDWORD, LPDWORD, LPDWORD, LPBYTE, LPDWORD))next("SCardStatus");
  enter();
  return leave(f(card, names, names_len, state, protocol, atr, atr_len));
}

LONG SCardTransmit(SCARDHANDLE card, const SCARD_IO_REQUEST *send_pci, LPCBYTE send, DWORD send_len,
                   SCARD_IO_REQUEST *recv_pci, LPBYTE recv, LPDWORD recv_len) {
  static LONG (*f)(SCARDHANDLE, const SCARD_IO_REQUEST *, LPCBYTE, DWORD, SCARD_IO_REQUEST *, LPBYTE, LPDWORD);
  if (!f)
    f = (LONG(*)(SCARDHANDLE, const SCARD_IO_REQUEST *, LPCBYTE, DWORD, SCARD_IO_REQUEST *, LPBYTE,
                 LPDWORD))next("SCardTransmit");
  enter();
  return leave(f(card, send_pci, send, send_len, recv_pci, recv, recv_len));
}
