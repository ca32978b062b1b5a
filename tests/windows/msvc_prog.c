/* An MSVC-ABI caller without the Windows SDK or a C runtime: compiled by clang for *-pc-windows-msvc and
 * linked by lld-link against the shipped MSVC import library cm_smartcard.lib (tests/windows/msvc-link.sh),
 * then run under Wine 10 by the Windows stage. Prints one line and exits 0 when every call answered as
 * the header says. No CRT: kernel32 only (its import library is made from a three-line .def). */
#include "cm_smartcard.h"

__declspec(dllimport) void *__stdcall GetStdHandle(unsigned long which);
__declspec(dllimport) int __stdcall WriteFile(void *file, const void *buf, unsigned long len, unsigned long *written,
                                              void *overlapped);
__declspec(dllimport) __declspec(noreturn) void __stdcall ExitProcess(unsigned int code);

static unsigned long length(const char *s)
{
    unsigned long n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

static void put(const char *s)
{
    unsigned long written = 0;
    WriteFile(GetStdHandle((unsigned long)-11), s, length(s), &written, 0);
}

static int equal(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

void __cdecl start(void)
{
    int ok = 1;
    ok &= equal(cm_version(), CM_SMARTCARD_VERSION);
    ok &= cm_abi_version() == CM_ABI_VERSION;
    ok &= equal(cm_status_str(4242), "unknown status code");
    cm_atr_info info;
    unsigned char *p = (unsigned char *)&info;
    for (unsigned long i = 0; i < sizeof info; i++) {
        p[i] = 0;
    }
    info.struct_size = sizeof info;
    ok &= cm_parse_atr("3B 8D 01 80 FB A0 00 00 03 97 42 54 46 59 03 01 C8", &info) == CM_STATUS_OK && info.length == 17;
    ok &= cm_parse_atr(0, &info) == CM_STATUS_NULL_ARGUMENT;
    cm_reader_list *list = 0;
    cm_status rc = cm_list_readers(&list);
    ok &= rc == CM_STATUS_OK || (rc >= 100 && rc <= 199);
    cm_reader_list_free(list);
    put("cm_smartcard ");
    put(cm_version());
    put(ok ? " via the MSVC import library: version, ABI, status text, ATR parse, reader list answered\n"
           : " via the MSVC import library: WRONG ANSWERS\n");
    ExitProcess(ok ? 0 : 1);
}
