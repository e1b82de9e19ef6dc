// Windows programs packed with Petite 2.x: sections compressed with an LZ coder of Petite's own,
// unpacked in memory by a stub at the entry point. A reader of scan/reader.h (its contract
// applies) whose one member ("Petite") is the program's memory image as the stub's first stage
// leaves it (headers at 0, each section at its RVA, the packed sections unpacked, the stub's first
// bytes cleared so the image is not taken for a packed program again): an archive or a program
// inside is then found by the other readers (SFX search, embedded programs). Petite's second stage
// (imports, relocations) is not run: it changes addresses, not the data a scan looks for.
//
// The stub (`mov eax, SECTION; push HANDLER; push fs:[0]; mov fs:[0], esp; pushfw; pusha; push
// eax; push IMAGEBASE; ...; lea edx, [eax + R]`) walks records at SECTION + R, addresses relative
// to the image base:
//   move:   u32 N | 0x80000000, u32 FROM, u32 TO    N dwords copied downwards: FROM to TO first,
//                                                   then FROM - 4 to TO - 4, and so on
//   unpack: u32 FROM, u32 SIZE, u32 TO, u32 (unused) SIZE bytes unpacked from FROM to TO (none if 0)
// The walk ends at the record that writes into page 0 (the headers; the stub makes it read-only
// with VirtualProtect): the write faults, and the exception handler Petite installed (its second
// stage) takes over. A move that reaches page 0 is done down to it.
// The packed stream mixes bits (read from bytes, most significant first, a byte loaded when the
// previous one is used up) with whole bytes, in the order the decoder reads them:
//   block   = byte (the first output byte) { item } while the bytes left (SIZE - 1 at first, a
//             signed 32-bit count) are above 0; they must then be exactly 0
//   item    = 0 byte                        a literal, XORed with the low byte of the bytes left
//           | 1 gamma=2 len                 a match of len bytes at the last distance (0 at first)
//           | 1 gamma=G bits(W) len         a match at distance ((G - 3) << W | bits) + 1 (that
//                                           becomes the last distance) of len + 1 bytes, + 1 more
//                                           past each of two distances; W and the distances are
//                                           5, 0x3a0, 0x3fa0 for SIZE under 64 KiB; 7, 0x680,
//                                           0x7e80 under 256 KiB; else 8, 0x500, 0x7d00
//   len     = bits(2), or gamma + 2 if they are 0
//   gamma   = 1, then (v << 1) | bit for as long as the bit after it is 1 (32-bit: a gamma that
//             wraps to 0 or 1 takes the last-distance path as the stub's registers do, the
//             length's two bits appended to G - 2, modulo 2^32)
// SPEC: none published; the format was read off the stub of ClamAV's test file clam-petite.exe,
// and only a stub whose setup (immediates aside) and decoder are byte for byte that one is taken;
// every block of that file unpacks to exactly its SIZE, and its output is checked by the zip it
// holds (CRC-32) and clam.exe's bytes; the codes that file does not use by hand-made streams
// (petite_test.cc). ClamAV's libclamav/petite.c, an independent reading of Petite 2.2, has the
// same records (at SECTION + 0x1b8), size classes, distances and literal XOR.
//
// DataLoss: records or packed data outside the image, a block that unpacks more or less than its
// SIZE, a match reaching outside the image, no end record within kMaxPetiteRecords, sections over
// kMaxPeImageBytes. ResourceExhausted: the image, and the bytes the blocks and moves read and
// write, larger than ReaderOptions::max_total_bytes. Errors name the record. After a failing
// record the image as far as it was unpacked is still yielded. Unimplemented: a Petite stub whose
// decoder differs (another version; the decoder compared by SHA-256): nothing is yielded.
// Thread-safety: pure functions.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

inline constexpr size_t kMaxPetiteRecords = 256;

// A PE whose entry point holds Petite 2.x's setup code (its immediates aside).
bool LooksLikePetite(ByteView data);
Status ReadPetite(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
