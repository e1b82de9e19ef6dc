// Windows programs encrypted with yoda's Crypter (yC 1.x): the sections' bytes encrypted one by
// one with a short cipher that the crypter draws at random, and decrypted in memory by a stub in a
// section of its own. A reader of scan/reader.h (its contract applies) whose one member ("yC") is
// the program with its sections decrypted as the stub leaves them, file layout unchanged: a packed
// program inside (UPX, as in ClamAV's clam-yc.exe) is then opened by its own reader.
//
// The stub at the entry point (`push ebp; mov ebp, esp; push ebx; push esi; push edi; pusha;
// call $+5; pop ebp; sub ebp, imm`, then `mov ecx, end; sub ecx, start; mov edx, ebp; add edx,
// start; lea edi, [edx]; mov esi, edi; xor eax, eax`) first decrypts the rest of itself with a
// loop `lodsb; <cipher>; stosb; loop` (ecx counting down from the length, so `cl` varies per
// byte). The decrypted stub walks the section table and, for every section but the resources,
// relocations, exports, TLS and its own (`rsrc`, `.rsr`, `relo`, `.rel`, `.eda`, `.tls`, `yC`)
// and those without raw data, calls a second loop of the same shape (found by its call site
// `mov esi, [esi+0Ch]; add esi, eax; call rel32`) over the section's SizeOfRawData bytes.
// A cipher is a sequence of these steps on AL (read from the stub, never run): add/sub/xor with an
// immediate or CL, rol/ror by an immediate or CL, inc, dec, not, neg; nop, clc, stc, cld and
// forward short jumps over junk bytes are skipped. Anything else is Unimplemented (reported, no
// member).
//
// DataLoss: a stub whose regions are not in the file; sections that overlap (more bytes to decrypt
// than the file has); a section cut by the end of the file (what is there is decrypted and
// yielded). A cipher is applied step by step to fewer than 65,536 bytes and through a table
// (cl, byte) -> byte to more, so the cost stays linear in the file whatever the number of steps.
// SPEC: none published; the layout above was read off ClamAV's test file clam-yc.exe (yC 1.3),
// whose decryption is checked by the UPX Adler-32 of the program it holds and by clam.exe's bytes.
// Thread-safety: pure functions.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

// A PE whose entry point holds yC's stub prologue, whose stub region is in the file and still
// encrypted (the member ReadYc yields, stub decrypted, is not taken for another; nor is a file
// cut before its stub's end).
bool LooksLikeYc(ByteView data);
Status ReadYc(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
