/* TEST-ONLY shim: bcryptprimitives.dll exporting ProcessPrng for Wine 8.0, which lacks that DLL (added in
 * Wine 8.13). Rust >= 1.78 std imports ProcessPrng, so without it the cm_smartcard DLL fails to load under
 * Wine 8 (error 126). Real Windows 10+ has the DLL: NEVER ship this file's output.
 * Build: x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll processprng_shim.c -ladvapi32
 *        (i686: add -Wl,--kill-at so the stdcall export is named ProcessPrng, not ProcessPrng@8) */
#include <windows.h>

/* RtlGenRandom, exported by advapi32 as SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000u ? 0x40000000u : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
