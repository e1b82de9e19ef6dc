// OLE1 embedded objects and the Packager's "Package" object, the way Office embeds a whole file
// (an .exe dragged into a document) in RTF (\objdata) and in OLE2 compound files (the
// "\x01Ole10Native" stream of an embedded object's storage).
//
// An Ole10Native buffer (the Packager's native data, length-prefixed) is
//   u32 size of what follows, u16 2, label NUL-terminated, source path NUL-terminated,
//   u16 0, u16 3, u32 length of the temporary path, temporary path NUL-terminated,
//   u32 data size, data, (optionally UTF-16 copies of the names)
// ReadOle10Native yields the data as one member, named by the source path's last component (else
// the label, else "package"). LooksLikeOle10Native accepts a buffer only if all of that parses
// inside it with non-empty, printable names and a size field consistent with the buffer: it is
// the content test the walker uses, so it is strict.
//
// An OLE1 ObjectHeader ([MS-OLEDS] 2.2.4 and 2.2.5) is
//   u32 OLEVersion, u32 FormatID (2 embedded), LengthPrefixedAnsiString ClassName, TopicName,
//   ItemName, u32 NativeDataSize, NativeData
// ParseOle1Object finds its class and native data; for class "Package" the native data with its
// size prefix is an Ole10Native buffer, for other classes usually an OLE2 compound file.
//
// SPEC: [MS-OLEDS] sections 2.2 (OLE1.0 format); the Packager layout is undocumented by Microsoft
// and follows ClamAV's cli_scan_ole10 and the files Office writes.
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikeOle10Native(ByteView data);
Status ReadOle10Native(ByteView data, const ReaderOptions& options, const MemberSink& sink);

struct Ole1Object {
  std::string class_name;  // "Package", "Word.Document.8", ...
  // The native data with its u32 size prefix (an Ole10Native buffer for "Package"); cut at the
  // end of the input if the size says more (then `truncated`).
  ByteView sized_native;
  ByteView native;  // the same without the prefix
  bool truncated = false;
};
Result<Ole1Object> ParseOle1Object(ByteView data);

}  // namespace accord::scan
