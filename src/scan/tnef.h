// TNEF (winmail.dat, application/ms-tnef): Outlook's encapsulation of a message and its
// attachments. A reader of scan/reader.h (its contract applies).
//
// The stream is a signature, a u16 key, then attributes: u8 level (1 message, 2 attachment),
// u32 id (type << 16 | tag), u32 length, the data, u16 checksum (the data's bytes summed). Each
// attachment begins with attAttachRendData; its attAttachData is a member named by its
// attAttachTitle (the 8.3 name; else "attachment<N>"), whichever order the two come in. An
// attribute running past the end or an unknown level is DataLoss (checksums are not verified:
// writers get them wrong); what came before is still yielded (an attachment
// cut by the end of the stream is yielded cut). Members are views of the input copied once; the
// stream is read once, front to back.
//
// SPEC: [MS-OXTNEF] Transport Neutral Encapsulation Format, sections 2.1.3 (TNEF stream,
// attributes, checksum) and 2.1.3.3.3 (attachment attributes).
// Thread-safety: pure function.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikeTnef(ByteView data);  // 0x223e9f78, little-endian
Status ReadTnef(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
