// Windows programs packed with UPX (the most common executable packer): the program's sections
// compressed into one stream that a stub unpacks in memory. A reader of scan/reader.h (its contract
// applies) whose members are the unpacked image ("UPX") and the programs embedded in it
// ("UPX@<offset>", carved as scan/pe.h's NextEmbeddedPe does, as many as the walker admits), which
// is where a dropper's payload is found, as ClamAV finds it.
//
// UPX writes a pack header, "UPX!" then u8 version, format (9: win32/pe, 36: win64/pe), method
// (2: NRV2B, 5: NRV2D, 8: NRV2E, each with a 32-bit little-endian bit buffer; 14: LZMA), level,
// u32 Adler-32 of the unpacked and of the packed data, u32 unpacked and packed length, ... The
// packed data is looked for right after the pack header, where the stub's first instructions
// point (`pusha; mov esi, VA`, also after a DLL's `cmp; jnz`; `lea rsi, [rip + rel32]` in 64-bit
// programs), and at a section's start, at most four times the file's length summed in all, and
// taken only where its Adler-32 matches the header's; it is unpacked with libucl (UPX's own
// NRV library, Debian's libucl-dev) or, for LZMA, with liblzma:
//   lzma-data = (lc + lp) << 3 | pb : u8, lp << 4 | lc : u8, range-coded LZMA1 stream (no end mark)
// and the unpacked image's Adler-32 checked. A verified image then has UPX's call/jump filter
// undone as UPX's unpacker does (pack header byte 28 the filter: 0x11-0x16, 0x24-0x26, 0x36, 0x46,
// 0x49; byte 29 its cto byte; the code range from the original PE header UPX keeps after the
// image, at the offset in the image's last u32), so a program's code is its own again; the
// imports are not rebuilt, and a DLL's relocated addresses stay as UPX stores them. An unknown
// filter or a header out of range leaves the image as unpacked.
//
// Unimplemented: other methods, and LZMA with lc + lp over 4 (liblzma's bound; UPX writes lc 3,
// lp 0 unless told otherwise); DataLoss: a header claiming more than 10,000 times its packed
// length (refused before anything is allocated); ResourceExhausted: an image larger than
// ReaderOptions::max_total_bytes, or for LZMA than half of it (liblzma's dictionary is as large as
// the image; unpacked as far as that, that much yielded), or liblzma out of memory; packed data not
// found where the header says, or not unpacking to the header's length and checksum (what
// unpacked is still yielded).
//
// SPEC: UPX's sources (p_w32pe.cpp, packhead.cpp: the pack header layout; compress_lzma.cpp: the
// two property bytes; filter/ct.h, cto.h, ctok.h, filter_impl.cpp: the filters), UCL's
// n2b/n2d/n2e.
// Thread-safety: pure functions.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

// A PE with a plausible UPX pack header in its first 64 KiB (the reader then checks, by the
// header's Adler-32, that the packed data is where it says, and reports a file where it is not).
bool LooksLikeUpx(ByteView data);
Status ReadUpx(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
