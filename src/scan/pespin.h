// Windows programs protected with PESpin 1.1: the program's sections encrypted in two layers and
// compressed with aPLib, undone at run time by a stub (itself encrypted in layers) in the last
// section. A reader of scan/reader.h (its contract applies) whose one member ("PESpin") is the
// program's memory image with its sections decrypted and unpacked (headers at 0, each section at
// its RVA); an archive or a program inside is then found by the other readers. Imports, the
// stolen entry-point bytes and the redirected calls are not restored (nor are they by ClamAV).
//
// The layers, from E = the entry point's file offset (in the last section, which must hold E +
// 0x321b), on a copy of the file; sections are taken as ClamAV takes them (RVA rounded down to
// the section alignment, raw offset down to the file alignment (512 where the sections start on
// 512 but not on it), raw size up to it and cut at the file's end, virtual size up to the section
// alignment), n = the sections but the last:
//   stub     E + 4 = call $+5; mov ebx, [esp]; add ebx, ...; E + 0xdb = mov ebx, KEY8;
//            E + 0xe0 = mov ecx, 0x11fe; the password flag (0x200000 in the dword at E + 0x1e1)
//            clear
//   1        the 0x11fe bytes from E + 0x31e2 down to E + 0x1fe5 XORed with KEY8, KEY8 - 1, ...
//   2        the 0x5a0 bytes (the dword at E + 0x26f0) from E + 0x2d5 XORed with the low byte of
//            a shift register from the dword at E + 0x26eb: odd ? (k >> 1) ^ 0x8c328834 : k >> 1
//            before each byte
//   key      the dword at E + 0x3217 minus a checksum of the original file's first (size - the
//            dword at E + 0x429) bytes (per byte c: a ^= c << 8 & 0xff00; a = a >> 3 & 0x1fffffff;
//            four times a ^= b >> 8 & 0xff, a += 0x7801a108, a ^= b, a = ror(a, b & 31), swap a
//            and b; from a = b = 0xffffffff; the checksum is b)
//   3        each of the first n sections (32 at most) in the bitmap at E + 0x3207 XORed with a
//            shift register started from the key for each: odd ? k >> 1 : (k >> 1) ^ 0xed43af31,
//            before each byte
//   4        the 0x180 bytes (the dword at E + 0x644) from E + 0x28d3, as 2 with the dword at
//            E + 0x650 and 0xed43af32
//   5        the 0x1a1 bytes (the dword at E + 0x28dd) from E + 0x6d4 each run through the byte
//            program at E + 0x28ec (AL the byte, CL the bytes left, from 0xa1 down)
//   6        each section of the bitmap at E + 0x6f1 run through the byte program at E + 0x755 (CL
//            the section's bytes left, low byte)
//   7        each section of the bitmap at E + 0x3061 unpacked from aPLib (scan/aplib.h) into its
//            virtual size
//   program  = 0x24 bytes of: 02 c1 (add al, cl) | 2a c1 (sub) | 32 c1 (xor) | 04 ib (add al, ib)
//            | 2c ib | 34 ib | fe c0 (inc al) | fe c8 (dec al) | c0 c0 ib (rol al, ib) | c0 c8 ib
//            (ror) | eb 01 byte (a jump over a byte) | 0a r/r (or of a register with itself) |
//            90 | f8 | f9, then aa
// SPEC: none published; ClamAV's libclamav/spin.c, an independent reading of PESpin 1.1, is the
// description this follows (its checks: the stub's bytes above, the lengths 0x5a0, 0x180, 0x1a1,
// the programs' end byte); accord takes only the exact instruction forms above in the programs
// (ClamAV takes any register). clam-pespin.exe's sections decrypt to its code and strings and its
// fourth unpacks to clam.exe at 0x4de0.
//
// DataLoss: the checksum's length or a section outside the file, sections over 256 MiB; a
// compressed section without data in the file, over 256 MiB, or whose aPLib stream is corrupt or
// larger than it (the first such is reported; the other sections are still unpacked and the
// image yielded). ResourceExhausted: the file, the layers' passes over the sections, the image and
// the unpacked sections larger than ReaderOptions::max_total_bytes. Unimplemented: another
// version (the stub's bytes or lengths differ), a password-protected program (ClamAV tries it),
// a byte program accord does not read (nothing yielded).
// Not read: PESpin's compressed resources (the dword at E + 0x2fee), versions after 1.1.
// Thread-safety: pure functions.
#pragma once

#include <optional>

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

// A PE whose entry point, in its last section with room for the stub, starts as PESpin 1.x's.
bool LooksLikePespin(ByteView data);
Status ReadPespin(ByteView data, const ReaderOptions& options, const MemberSink& sink);

// The layers' byte-program interpreter: `program` (0x24 bytes and the end byte 0xaa) run over each
// byte of `data` (AL the byte, CL the bytes left from data.size() down, low byte); nullopt if the
// program is not one accord reads.
std::optional<Bytes> RunPespinProgram(ByteView program, ByteView data);

}  // namespace accord::scan
