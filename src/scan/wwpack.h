// Windows programs packed with WWPack32 1.12: sections compressed in place with an LZ77 coder of
// WWPack's own, unpacked in memory by a stub at the entry point. A reader of scan/reader.h (its
// contract applies) whose one member ("WWPack32") is the program's memory image as the stub
// leaves its sections (headers at 0, each section at its RVA, the packed blocks unpacked, and the
// stub's first 8 bytes cleared, so the image is not taken for a packed program again): an archive
// or a program inside is then found by the other readers (SFX search, embedded programs). The
// packed words of a block are decoded from a copy, as ClamAV does, not in place as the stub does.
//
// The stub (starting `push ebx; push ebp; mov ebp, eax; xor ebx, ebx; jmp` over its banner
// "WWPack32 decompression routine version 1.12") holds a table of 17-byte block records at an
// offset its code names: u32 X (the block unpacks to stub - X), u32 Y (the unpacked block and
// what follows it up to dest + Y + 4 is the stub's; past what unpacked it is zeroed), u32 N (the
// packed block is N dwords), u32 Z (they end at dest + Z + 4), u8 another record follows.
// The packed stream interleaves 32-bit little-endian words of flags, read from the most
// significant bit, with literal bytes: flag 0 is a literal byte; 1 is a match, whose 2-bit kind
// says a length of 2 (with a short offset; one value ends the block), 3, 4 or more (lengths 5 to
// 65,535 in further codes), then offsets of 5 to 15 bits plus bases. SPEC: none published; the
// format was read off the stub of ClamAV's test file clam-wwpack.exe, and only a stub whose code
// is byte for byte that one is taken; its output is checked by the zip it holds (CRC-32) and by
// clam.exe's bytes, and the codes that file does not use by hand-made streams (wwpack_test.cc).
//
// DataLoss: records or packed data outside the image, a stream that runs out or points before
// the image, output past its block, an image over 256 MiB. ResourceExhausted: an image, or blocks
// in all, larger than ReaderOptions::max_total_bytes. After a failing block the image as far as it
// was unpacked is still yielded. Unimplemented: a WWPack32 stub whose code differs (another
// version: the setup compared byte by byte, the rest by SHA-256).
// Thread-safety: pure functions.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

// A PE whose entry point holds WWPack32's stub (its first bytes and banner).
bool LooksLikeWwpack(ByteView data);
Status ReadWwpack(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
