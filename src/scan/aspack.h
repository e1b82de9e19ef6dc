// Windows programs packed with ASPack 2.12: the program's sections compressed as blocks of an
// LZX-like format (canonical Huffman codes, three repeated distances), unpacked in memory by a stub
// at the entry point. A reader of scan/reader.h (its contract applies) whose one member ("ASPack")
// is the program's memory image as the stub leaves it before it resolves imports (headers at 0,
// each section at its RVA, the blocks unpacked, the stub's first bytes cleared so the image is not
// taken for a packed program again): an archive or a program inside is then found by the other
// readers.
//
// The stub, from S = entry point - 1 (offsets below are from S; `[ebp+X]` in its code is S + X +
// 0x13): at S + 1 `pusha; call +3; ...` (kAspackHead); at S + 0x3ba `push 0; ret` (2.12's, where
// the stub later writes the original entry point; newer versions have it elsewhere); its code
// from S + 0x10 to the end of its block loop at + 0x1a9, and its decompressor (S + 0x66c to
// + 0xf3c, with its tables), byte for byte clam-aspack.exe's, but for the base it computes
// (`sub ebx, S` at + 0x1e, which must be S) and the loop's four immediates; the dwords at + 0x435
// ("already unpacked") and + 0x544 (a dword to swap around the loop) must be 0:
//   S + 0xff   F: the E8/E9 filter runs on a block while F is 0 (the stub increments F after it,
//              so it filters the first block only)
//   S + 0x139  0, or 4 (a jump over the E9 test: E8 only)
//   S + 0x145  0, or 5 (a jump over the marker test)
//   S + 0x148  M: the marker, the byte an E8/E9 operand must start with
// At S + 0x57c, up to the decompressor (30 entries), the blocks, each compressed in place at its
// address, unpacked into a buffer and copied back over it:
//   blocks  = { u32 RVA (not 0) u32 SIZE } u32 0
// A block is read MSB first: `bits(n)` takes the next n bits of the stream (32 are loaded ahead;
// reading past the block's data goes on into the image after it, as in memory):
//   block   = tables { item } until SIZE bytes are out (no end code; a last match may take the
//             block up to 263 bytes past SIZE, all of which the stub copies back)
//   tables  = bits(1) (0: the previous lengths become 0) 19 * bits(4) (the lengths of PRE)
//             757 * length (coded by PRE: 0-15 adds to the previous length, modulo 16; 16 repeats
//             the last length 3 + bits(2) times; 17 and 18 give 3 + bits(3) and 11 + bits(7)
//             zeros; a run stops at 757) split as MAIN (721), LEN (28), ALIGN (8); each must be a
//             complete canonical code (lengths 1-15, shorter codes first, then by symbol; all its
//             leaves used), as Deflate's are
//   item    = MAIN < 256                 a literal
//           | MAIN = 720                 new tables (coded against the current lengths)
//           | MAIN = 256 + 8 * slot + k  a match of k + 2 bytes; k = 7: + kAspackLenBase[LEN] +
//                                        bits(kAspackLenExtra[LEN]); then the distance code
//                                        V = base[slot] + bits(extra[slot]), where extra is
//                                        kAspackDistExtra and base[i] the sum of 2^extra[j] for
//                                        j < i; with extra >= 3 and ALIGN's lengths not all 3,
//                                        V = base + (bits(extra - 3) << 3) + ALIGN
// V = 0, 1, 2 is the distance used last, second last, third last (1 and 2 swap with the last);
// V >= 3 is a new distance V - 2 that becomes the last (the others move down); all three are 1
// (distance 0 + 1) at each block's start. Then the E8/E9 filter, while F is 0, over the block's
// output: at each position i below SIZE - 6 holding E8 or E9 (E8 only if so set) followed by M
// (unless the marker test is skipped), the u32 after it becomes (its upper three bytes) - i, and
// the walk goes on at i + 5.
// SPEC: none published. accord's decoder was written from a description of the stub's code (read
// from clam-aspack.exe's disassembly); ClamAV's libclamav/aspack.c, an independent reading of the
// same stub, has the same tables, codes, distances and filter. clam-aspack.exe's three blocks
// unpack to exactly their sizes and its .clam section to clam.exe's 544 bytes; the codes that file
// does not use (new tables inside a block, lengths coded against earlier ones, the filter) are
// checked by hand-made streams (aspack_test.cc) whose expected bytes are built from what each code
// means.
//
// DataLoss: a block outside the image, over the stub or in the (read-only) headers, also by a last
// match past its end; a table that is no complete code (its running sum of 2^(24 - length) in 32
// bits passing 2^24, or ending elsewhere); a repeat before the first length; a match reaching
// before its block; packed data running past the image; no end within the list's 30 entries.
// ResourceExhausted:
// the image, and the bytes the blocks read and write, larger than ReaderOptions::max_total_bytes.
// Errors name the block. After a failing block the image as far as it was unpacked is still
// yielded. Unimplemented: an ASPack stub other than 2.12's, or whose code, decompressor, base,
// two dwords or filter settings (the jumps other than 0, 4 and 0, 5) differ (nothing yielded).
// The stub is checked in the file (LooksLikeAspack) and again in the memory image.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

// `pusha; call +3; (jmp)`, the bytes at every ASPack 2.x entry point (2.12 to 2.42).
inline constexpr std::string_view kAspackHead("\x60\xe8\x03\x00\x00\x00\xe9\xeb\x04\x5d\x45\x55\xc3\xe8\x01",
                                              15);
// The decompressor's tables (in the stub at S + 0x6d6, compared with the rest of it).
inline constexpr uint8_t kAspackLenBase[28] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  10,  12,  14,  16,  20,
                                               24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224};
inline constexpr uint8_t kAspackLenExtra[28] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2,
                                                2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5};
inline constexpr uint8_t kAspackDistExtra[58] = {0,  0,  0,  0,  1,  1,  2,  2,  3,  3,  4,  4,  5,  5,  6,
                                                 6,  7,  7,  8,  8,  9,  9,  10, 10, 11, 11, 12, 12, 13, 13,
                                                 14, 14, 15, 15, 16, 16, 17, 17, 17, 17, 17, 17, 17, 17, 17,
                                                 17, 17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, 18};

// A PE whose entry point holds kAspackHead (any 2.x version; ReadAspack tells them apart).
bool LooksLikeAspack(ByteView data);
Status ReadAspack(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
