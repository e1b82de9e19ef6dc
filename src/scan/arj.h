// ARJ archives (Robert Jung's ARJ 2.x, still met in old malware collections and mail): a main
// header, then per file a local header and its data. A reader of scan/reader.h (its contract
// applies).
//
// Every header: 0x60 0xEA, u16 size of the basic header (0 ends the archive), the basic header,
// its CRC-32, then extended headers (u16 size, data, CRC-32) until a size of 0. A basic header:
// u8 first_hdr_size, version, min version, host OS, u8 flags (0x01 garbled = encrypted, 0x04 the
// file goes on in the next volume), u8 method (0 stored; 1-3 LZ77 + Huffman, "most" to "less"
// compressed, one decoder; 4 LZ77 with Elias-gamma-like codes, "fastest"), u8 file type (0 binary,
// 1 text, 2 main header, 3 directory, 4 volume label), u8 reserved, u32 time, u32 compressed size,
// u32 original size, u32 original CRC-32, u16 filespec position, u16 access mode, u8 first and last
// chapter, host data up to first_hdr_size; then the name and the comment, NUL-terminated.
// Members: every binary or text file, named by its stored path. A header whose CRC fails, a
// header or data outside the input, or data that does not decode to its size and CRC is DataLoss
// (the files before are still yielded; so is what decoded); a garbled file is PermissionDenied and
// an unknown method Unimplemented (the reader goes on with the next file, and returns the first
// problem met).
//
// SPEC: ARJ 2.x technote (TECHNOTE.DOC of the ARJ distribution, Debian's arj package); the
// decoder of methods 1-3 is Haruhiko Okumura's ar002 (LHA -lh5- with a 26,624-byte window), as in
// ARJ's open-source decode.c.
// Thread-safety: pure function.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikeArj(ByteView data);  // a main header at 0 with a valid CRC-32
Status ReadArj(ByteView data, const ReaderOptions& options, const MemberSink& sink);

// The data of one file: `method` 1-4, `size` bytes when whole. At most `cap` bytes out; OK when
// `size` (or the cap) was reached, DataLoss when the data ends early or is damaged, with what
// came before in `out`.
Status DecodeArj(ByteView in, int method, uint64_t size, uint64_t cap, Bytes& out);

}  // namespace accord::scan
