// Windows programs packed with MEW 11 SE (its aPLib mode): the program's sections compressed as
// blocks of aPLib's LZ format, unpacked in memory by a stub that MEW hides in the PE headers. A
// reader of scan/reader.h (its contract applies) whose one member ("MEW") is the program's memory
// image as the stub leaves it before it resolves imports (headers at 0, each section at its RVA,
// the blocks unpacked, the stub's entry jump cleared so the image is not taken for a packed
// program again): an archive or a program inside is then found by the other readers.
//
// The stub: the entry point holds `jmp STUB` (or is STUB), and STUB is `mov esi, TABLE; mov ebx,
// esi; lodsd; lodsd; push eax; lodsd; xchg eax, edi; mov dl, 0x80; ...`, FSG's aPLib decoder with
// its bit reader at [TABLE] and its gamma reader at [TABLE - 4] (both compared byte for byte, the
// bit reader's jumps followed). At TABLE: u32 (the bit reader), u32 (where the program starts once
// unpacked), u32 DEST (the first block's address), then the blocks:
//   blocks  = block { u32 DEST block } u32 0
//   block   = byte (the first output byte) { item } end
//   item    = 0 byte                       a literal
//           | 1 1 1 bits(4)                one byte at distance 1-15, or a 0 byte if the bits are 0
//           | 1 1 0 byte                   byte >> 1 = distance (it becomes the last distance),
//                                          length 2 + (byte & 1)
//           | 1 0 gamma=2 gamma            after a literal or a 1 1 1 item: a match of gamma bytes
//                                          at the last distance
//           | 1 0 gamma=G byte gamma=L     a match at distance (G - 3) << 8 | byte after a literal
//                                          or a 1 1 1 item, (G - 2) << 8 | byte after a match, of
//                                          L bytes, + 1 from distance 0x500, + 1 more from 0x7d00,
//                                          + 2 under 0x80; it becomes the last distance
//   end     = 1 1 0 byte 0 or 1
// with bits read as scan/stub_bits.h says (the bit byte starts afresh at each block; the last
// distance carries over from block to block) and gamma = 1, then (v << 1) | bit while the bit after
// it is 1, all 32-bit as the registers are. This is aPLib's format (Jørgen Ibsen's), which FSG and
// MEW decode with this code (scan/aplib.h, shared with the other readers of aPLib streams).
// SPEC: aPLib's depacker sources are its description (not packaged in Debian); accord's decoder
// was written from the stub of ClamAV's test file clam-mew.exe, whose five blocks end where the
// table says and unpack to the zip holding clam.exe (CRC-32 checked), and every code is checked
// by hand-made streams (mew_test.cc) whose expected bytes are built from what each code means. MEW's
// LZMA mode (a second stage that the aPLib blocks unpack) is not read: its blocks come out, its
// LZMA data stays packed.
//
// DataLoss: the table outside the file or the image (nothing yielded), no block, a block or its data outside
// the image, a match reaching before the image, more than kMaxMewBlocks blocks. ResourceExhausted: the image,
// and the bytes the blocks read and write, larger than ReaderOptions::max_total_bytes. Errors name
// the block. After a failing block the image as far as it was unpacked is still yielded.
// Unimplemented: a MEW stub whose bit or gamma reader differs (nothing yielded).
// Thread-safety: pure functions.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

inline constexpr size_t kMaxMewBlocks = 256;

// A PE whose entry point is, or jumps to, MEW's aPLib stub.
bool LooksLikeMew(ByteView data);
Status ReadMew(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
