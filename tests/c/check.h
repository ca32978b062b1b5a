/* check.h: what every C test program shares — the CHECK macro (thread-safe counters), the thread's last
 * error message, and the closing "N passed, M failed" line the test runners read. Include it once per program
 * (after cm_smartcard.h). */
#ifndef CM_TEST_CHECK_H
#define CM_TEST_CHECK_H

#include "cm_smartcard.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int check_passed, check_failed;

/* A program may define CHECK_ON_FAIL() before including this file to print more on a failure, for example
 * check_print_last_error(). */
#ifndef CHECK_ON_FAIL
#define CHECK_ON_FAIL() ((void)0)
#endif

static inline void check_print_last_error(void);

/* Counts a check; on failure prints the file, line and a printf-style explanation. */
#define CHECK(cond, ...)                                                         \
  do {                                                                           \
    if (cond) {                                                                  \
      atomic_fetch_add(&check_passed, 1);                                        \
    } else {                                                                     \
      atomic_fetch_add(&check_failed, 1);                                        \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                                \
      printf(__VA_ARGS__);                                                       \
      printf("\n");                                                              \
      CHECK_ON_FAIL();                                                           \
      fflush(stdout);                                                            \
    }                                                                            \
  } while (0)

/* The calling thread's last error message ("<none>" when there is none); valid until its next call. */
static inline const char *last_message(void) {
  static _Thread_local char buf[2048];
  size_t len = 0;
  if (cm_last_error_message(buf, sizeof buf, &len) != CM_STATUS_OK) strcpy(buf, "<none>");
  return buf;
}

/* Prints the thread's last error: status, HTTP status, PC/SC code and message. */
static inline void check_print_last_error(void) {
  char msg[1024] = "";
  size_t len = 0;
  if (cm_last_error_message(msg, sizeof msg, &len) != CM_STATUS_OK) msg[0] = '\0';
  printf("     last error: status %d (%s), HTTP %d, PC/SC 0x%08lX: %s\n", (int)cm_last_error_status(),
         cm_status_str(cm_last_error_status()), (int)cm_last_error_http_status(),
         (unsigned long)cm_last_error_pcsc_code(), msg);
}

/* Prints "N passed, M failed"; returns the exit status (0 when nothing failed). */
static inline int check_summary(void) {
  int p = atomic_load(&check_passed), f = atomic_load(&check_failed);
  printf("%d passed, %d failed\n", p, f);
  return f == 0 ? 0 : 1;
}

#endif
