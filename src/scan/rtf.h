// RTF documents' embedded objects: the hex-encoded data of each `{\*\objdata ...}` group. A reader
// of scan/reader.h (its contract applies).
//
// Each \objdata's hex digits are decoded (whitespace, line breaks and other control words in the
// group skipped, a dangling half byte dropped, the group's closing '}' or the end of the text ends
// it) and read as an OLE1 object (scan/ole1.h). The member "object<N>" is then
//   - for class "Package": the Packager's native data, size prefix included (an Ole10Native
//     buffer, which the walker opens to the packaged file: "x.rtf!object1!clam.exe");
//   - for another class: its native data (usually an OLE2 compound file: "Word.Document.8");
//   - if the data is no OLE1 object: the decoded bytes as they are.
// A native data size larger than the data is DataLoss (what there is is still yielded).
//
// Decoding only shrinks (two hex digits per byte), so all members together are at most half the
// text. The text is read once, front to back.
//
// SPEC: Rich Text Format Specification 1.9.1 (Microsoft, 2008), "Objects" (\object, \objdata);
// [MS-OLEDS] 2.2 for the OLE1 object inside.
// Thread-safety: pure function.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikeRtf(ByteView data);  // "{\rt" at the start
Status ReadRtf(ByteView data, const ReaderOptions& options, const MemberSink& sink);

// The hex digits of the \objdata group whose content starts at `pos`, decoded; `pos` ends after
// the group. Exposed for tests.
Bytes DecodeRtfObjdata(ByteView text, size_t& pos);

}  // namespace accord::scan
