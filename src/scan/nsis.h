// NSIS (Nullsoft Scriptable Install System) installers: the installer program with its data after
// a "first header" at a 512-byte boundary. A reader of scan/reader.h (its contract applies).
//
// First header (little-endian): u32 flags, u32 0xDEADBEEF, "NullsoftInst", u32 length of the
// installer's header once decompressed, u32 length of all that follows (from the first header,
// ending with a CRC-32 unless flags has 4, "no CRC"). Then either
//   non-solid: blocks of u32 length (bit 31: compressed) and that many bytes, the first the
//              installer's header (its script and strings), the others the files, each
//              compressed on its own; or
//   solid:     one compressed stream holding the same blocks with their u32 lengths, uncompressed.
// Compression, told by the first bytes: LZMA (5 bytes of properties, optionally after one byte
// saying whether an x86 BCJ filter ran first), deflate (raw), or NSIS's bzip2 (scan/nsis_bzip2.h:
// a block mark '1', then a 24-bit origin whose first byte is below 14). Non-solid when the
// lengths chain exactly to the end of the data. Members: "header", then "file<N>" in the order
// the blocks are stored (the names are in the installer's script, not read here).
// Decoded with liblzma, zlib and scan/nsis_bzip2.h; an LZMA dictionary is limited to what the
// member cap needs, so a hostile header does not make accord allocate gigabytes; a solid stream
// is decoded as it is read, each member cut at the cap, at most 1 GiB of it in all
// (ResourceExhausted beyond).
//
// SPEC: NSIS's Source/exehead/fileform.h (first header, blocks), 7-Zip's NSIS handler (how the
// compression is told).
// Thread-safety: pure functions.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikeNsis(ByteView data);  // a PE with an NSIS first header at a 512-byte boundary
Status ReadNsis(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
