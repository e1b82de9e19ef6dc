// AutoIt v3 compiled scripts (AutoIt's Aut2Exe: a Windows program carrying its script and the
// files the script installs with FileInstall). A reader of scan/reader.h (its contract applies).
//
// The data starts after the 16 bytes A3 48 4B BE 98 6C 4A A9 99 4C 53 0A 86 D6 48 7D and "AU3!EA05"
// (AutoIt 3.0-3.2.x) or "AU3!EA06" (3.2.6 and later), then 16 bytes (EA05: their byte sum seeds the
// data's key). Then entries, while each starts with its magic (EA05 FF 6D B0 CE, EA06 6B 43 CA 52):
// u32 tag length ^ k1 and the tag, u32 name length ^ k2 and the original path, u8 compressed flag,
// u32 stored size ^ k3, u32 size ^ k3, u32 checksum ^ k4, 16 bytes of times, and the data. Tags,
// names and data are XORed with a key stream: EA05 the Mersenne Twister (std::mt19937, each byte
// the output >> 1), EA06 AutoIt's own generator (17 words, rotations by 9 and 13); EA06's lengths
// count UTF-16 characters. Compressed data is "EA05"/"EA06", a big-endian u32 size, then an LZSS
// stream of big-endian 16-bit words read most significant bit first: a flag bit (EA05 1 / EA06 0
// a match), a 15-bit distance and a length of 2, 3, 5, 8 or more bits plus 3.
// Members: the script ("script", AutoIt's tokenised form for EA06, text for EA05) and each
// installed file, named by the last component of its original path.
//
// SPEC: none published; the layout is the one ClamAV's autoit.c reads (learned from, not copied;
// the keys k1-k4 and seeds are AutoIt's constants), checked against ClamAV's clam.ea05.exe and
// clam.ea06.exe.
// Thread-safety: pure functions.
#pragma once

#include "core/bytes.h"
#include "core/status.h"
#include "scan/reader.h"

namespace accord::scan {

bool LooksLikeAutoIt(ByteView data);  // a PE holding the AutoIt marker and "AU3!EA05"/"AU3!EA06"
Status ReadAutoIt(ByteView data, const ReaderOptions& options, const MemberSink& sink);

}  // namespace accord::scan
