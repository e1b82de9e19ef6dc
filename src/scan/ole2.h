// OLE2 / Compound File Binary (Word .doc, Excel .xls, PowerPoint .ppt, .msi, Outlook .msg, ...):
// a FAT file system inside a file. A reader of scan/reader.h (its contract applies).
//
// Every stream with data is a member, named by its path of storages and stream name, '/' between
// (control characters, such as the \x01 of "\x01Ole10Native", become '_'):
//   "ObjectPool/_1208345678/_Ole10Native", "WordDocument", "_SummaryInformation"
// The walker then looks into each stream by content (an embedded OLE2 file, an OLE1 package...).
// One format-specific step is taken here because no content test could: a "PowerPoint Document"
// stream's compressed embedded objects (ExOleObjStg records, zlib) are inflated and yielded as
// "PowerPoint Document!ExOleObjStg<N>" (each is itself an OLE2 file).
//
// Hostile input: the header's sector sizes are checked; the DIFAT, FAT, miniFAT and directory
// chains are followed with a visited set, so a cycle ends them (reported); a stream's chain is
// followed at most as many steps as its table has entries, so a cycle there ends it too; the
// directory tree is walked with a visited set and at most kMaxStorageDepth storages deep. A
// chain pointing outside the file, a stream shorter than its size, a broken tree: DataLoss, after
// everything readable has been yielded. Memory: the FAT, miniFAT, directory and mini stream are
// each bounded by the input's size, streams by max_member_bytes.
//
// SPEC: [MS-CFB] Compound File Binary File Format, sections 2.2 (header), 2.3 (FAT/DIFAT), 2.5
// (miniFAT), 2.6 (directory entries and the red-black tree); [MS-PPT] 2.10.14 (ExOleObjStg).
// Thread-safety: pure function.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikeOle2(ByteView data);  // "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
Status ReadOle2(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
