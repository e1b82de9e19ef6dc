// PDF streams (embedded files, scripts, page contents), read the tolerant way ClamAV reads them:
// by looking for the `stream` keyword rather than trusting the cross-reference table, since
// malformed PDFs are normal (viewers repair them, and so attackers rely on that). A reader of
// scan/reader.h (its contract applies).
//
// Each `stream` keyword (followed by CRLF, LF or CR) starts a member named "obj<N>" after the
// `N G obj` header before it (else "stream<K>"). Its data runs for the dictionary's /Length when
// that is a direct integer that lands on `endstream`; otherwise up to the next `endstream`, less
// the line break before it; otherwise to the end of the file. The /Filter chain is applied:
// FlateDecode (zlib, a damaged or truncated stream keeps what inflated), ASCIIHexDecode and
// ASCII85Decode. At the first other filter decoding stops and the member is the data so far:
// image codecs (DCT, JPX, JBIG2, CCITTFax) silently, since their output is pixels, not files;
// LZWDecode, RunLengthDecode and the rest as Unimplemented. A /Length that lies, a stream without
// `endstream` or damaged deflate data is DataLoss; an /Encrypt dictionary is PermissionDenied
// (the walker reports Heuristics.Encrypted.PDF: encrypted streams are yielded undecrypted).
// Nothing here fails the whole file: every stream found is yielded.
//
// Time: the text is scanned once, front to back (each stream's dictionary is searched only back to
// the previous stream's end). Memory: one member at a time, at most max_member_bytes.
//
// SPEC: ISO 32000-1:2008 (PDF 1.7) sections 7.3.8 (stream objects), 7.3.10 (indirect objects),
// 7.4 (filters: 7.4.2 ASCIIHexDecode, 7.4.3 ASCII85Decode, 7.4.4 FlateDecode), 7.6 (encryption).
// Thread-safety: pure function.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikePdf(ByteView data);  // "%PDF-" in the first 1024 bytes
Status ReadPdf(ByteView data, const ReaderOptions& options, const MemberSink& sink);

// The filters on their own, capped at `cap` output bytes. Exposed for tests.
Bytes PdfAsciiHexDecode(ByteView in, uint64_t cap);
Bytes PdfAscii85Decode(ByteView in, uint64_t cap);

}  // namespace accord::scan
