// Decoders for files hidden inside text: MIME mail, uuencode, BinHex 4.0 and base64 data: URIs.
//
// libarchive opens binary archives; these are the text encodings a scanner must see through on its
// own. Each decoder takes the whole text, calls `sink` once per decoded file (in input order), and
// returns OK or the first problem it met; it goes on past a problem where it can, so everything
// decodable is emitted either way:
//   DataLoss           the text is truncated or malformed (a part without its closing boundary, a
//                      uuencoded block without "end", a BinHex stream failing its CRC, ...)
//   ResourceExhausted  a cap in DecodeOptions was hit (nesting, BinHex run-length expansion)
// Returning false from `sink` stops decoding at once; the decoder then returns OK.
//
// Bounds: base64, quoted-printable and uuencode only shrink their input, so all parts of one text
// together hold at most its size (plus 3 bytes: a last uuencode line without its line break). BinHex
// run-length coding can expand, so it is capped by max_output. Nested multiparts and message/rfc822 parts
// recurse at most max_nesting deep.
//
// SPEC: RFC 5322 (headers, folding), RFC 2045 (Content-Transfer-Encoding: base64 and
// quoted-printable), RFC 2046 section 5.1 (multipart boundaries), RFC 2183 (Content-Disposition
// filename), RFC 2231 section 4 (filename*=charset''percent-encoded), RFC 4155 (mbox "From " lines),
// POSIX uuencode (historical and begin-base64 forms), BinHex 4.0 (Apple, 1985: 6-bit text,
// 0x90 run-length coding, header and two forks each with a CRC-16/XMODEM), RFC 2397 (data: URIs).
//
// Decoding is lenient where real mail is sloppy (LF or CRLF, characters outside the base64
// alphabet skipped, a missing closing boundary still yields the parts before it) and strict where
// leniency would invent bytes (an incomplete base64 quantum is dropped, not padded).
// Thread-safety: pure functions; no state outside each call.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "core/bytes.h"
#include "core/status.h"

namespace accord::scan::mime {

// One decoded file. `name` is the file name the text gives it (Content-Disposition filename,
// Content-Type name, the uuencode or BinHex header), or a made-up one: "part3", "message2.eml",
// "data-uri1", "clam.exe.rsrc" (a BinHex resource fork).
struct Part {
  std::string name;
  Bytes data;
  // How many multiparts and attached mails of its mail enclose it (0: the mail's single body, or
  // not from a mail): a walker counts them as container levels (scan/container.h).
  int nesting = 0;
};
using PartSink = std::function<bool(Part&& part)>;

struct DecodeOptions {
  int max_nesting = 16;                 // multipart / message/rfc822 depth inside one mail
  size_t max_output = size_t{1} << 30;  // bytes one BinHex stream may expand to
};

// Cheap checks on the start of a buffer (the first few KiB), used to decide which decoder to run.
// LooksLikeMail: an optional mbox "From " line, then a well-formed header block holding a MIME
// header (MIME-Version, Content-Type) or a From: with To:, Subject: or Date:.
bool LooksLikeMail(ByteView text);
bool HasUuencode(ByteView text);  // a line "begin <octal mode> <name>" or "begin-base64 ..."
bool HasBinhex(ByteView text);    // "(This file must be converted with BinHex 4.0)", white space, ":"
bool HasDataUri(ByteView text);   // "data:<type>;base64,"

// Splits an mbox into its messages (RFC 4155) and each message into its leaf parts, decoded.
// A single message yields its parts directly; an mbox of several yields "message<N>.eml" parts
// (each then a mail of its own to the caller).
Status DecodeMail(ByteView text, const DecodeOptions& options, const PartSink& sink);
Status DecodeUuencode(ByteView text, const DecodeOptions& options, const PartSink& sink);
Status DecodeBinhex(ByteView text, const DecodeOptions& options, const PartSink& sink);
Status DecodeDataUris(ByteView text, const DecodeOptions& options, const PartSink& sink);

// The transfer encodings on their own (RFC 2045 sections 6.7 and 6.8). Base64 skips characters
// outside its alphabet and stops at the first '='; quoted-printable keeps a malformed "=" as is.
Bytes DecodeBase64Lenient(ByteView text);
Bytes DecodeQuotedPrintable(ByteView text);

}  // namespace accord::scan::mime
