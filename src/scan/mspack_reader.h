// Microsoft's compressed single files and help files, read with libmspack from memory:
//   SZDD  MS-DOS COMPRESS.EXE / EXPAND.EXE (LZSS), "CLAM.EX_" holding "CLAM.EXE"
//   KWAJ  the other COMPRESS.EXE format (stored, XOR, SZDD-LZSS, LZ+Huffman or MSZIP)
//   CHM   Compiled HTML Help (ITSF: a directory of files, most of them in an LZX-compressed section)
// Readers of scan/reader.h (its contract applies): members in order, ReaderOptions::max_member_bytes
// per member, never a temporary file. libmspack does all the decompression (its LZX is the
// reference one; accord does not write its own); accord gives it an mspack_system whose "files" are
// the input buffer and capped output buffers, so it never touches the file system.
//
// Names: an SZDD or KWAJ member is named from the header's file name (KWAJ) or the container's
// name with the character SZDD stores in place of its last one ("CLAM.EX_" -> "CLAM.EXE"), else
// the container's name without an ".szdd"/".kwj" extension, else "data". CHM members keep their
// CHM path without the leading '/' ("clam.exe", "::DataSpace/NameList" for system files).
// Zero-length CHM entries (directories, empty files) are not members.
//
// SPEC: libmspack's mspack.h; SZDD/KWAJ as documented there; CHM as "Microsoft's HTML Help
// (.chm) format" (Matthew T. Russotto) and libmspack's chmd.c.
// Thread-safety: pure functions; each call has its own libmspack decompressor.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikeSzdd(ByteView data);  // "SZDD\x88\xf0\x27\x33" or QBasic's "SZ \x88\xf0\x27\x33\xd1"
bool LooksLikeKwaj(ByteView data);  // "KWAJ\x88\xf0\x27\xd1"
bool LooksLikeChm(ByteView data);   // "ITSF", version 2 or 3

Status ReadSzdd(ByteView data, const ReaderOptions& options, const MemberSink& sink);
Status ReadKwaj(ByteView data, const ReaderOptions& options, const MemberSink& sink);
Status ReadChm(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
