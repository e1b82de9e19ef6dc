// Symbian (EPOC release 3 to 6) SIS installers: a header, a table of file records, and each file's
// data, zlib-compressed unless the header says otherwise. A reader of scan/reader.h (its contract
// applies). Symbian 9's SISX (UID1 0x10201A7A) is another format and is not read.
//
// Header (little-endian): UID1, UID2 (0x1000006D for releases 3-5, 0x10003A12 for release 6),
// UID3 0x10000419, UID4, u16 checksum, u16 languages, u16 files (records), ..., u16 options at 36
// (0x1 names in UTF-16, 0x8 files stored uncompressed), ..., u32 file records pointer at 52.
// Records, in order from that pointer:
//   0 simple file, 1 multi-language file: u32 type, u32 file type, u32 details, u32 source name
//     length and pointer, u32 destination name length and pointer, then per language (one for a
//     simple file) a u32 length and a u32 pointer, and in release 6 per language the original
//     length and then a u32 MIME type length and pointer;
//   2 options: u32 count, per option per language a u32 length and pointer, 16 bytes of flags;
//   3 if, 4 else-if: u32 size and that many bytes of condition; 5 else, 6 end-if: nothing.
// Every file (each language's copy) with data is a member, named after the last component of its
// destination path ("!:\system\apps\clam\clam.exe" -> "clam.exe", else "file<N>"). A record,
// name or file outside the input, an unknown record type or damaged zlib data is DataLoss; the
// files before it are still yielded (a file's data inflated before damage too).
//
// SPEC: "Psion/Symbian SIS file format" (Alexander Thoukydides, 2001; the reference ClamAV's
// sis.c follows).
// Thread-safety: pure function.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikeSis(ByteView data);  // UID2 0x1000006D or 0x10003A12 at 4, UID3 0x10000419 at 8
Status ReadSis(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
