// The interface every container reader of accord's own (those that are not libarchive's) follows,
// so that the walker (scan/container.h) drives them all alike: SZDD/KWAJ/CHM (scan/mspack_reader.h),
// OLE2 compound files and OLE1 packages (scan/ole2.h, scan/ole1.h), RTF embedded objects
// (scan/rtf.h), TNEF (scan/tnef.h), Symbian SIS (scan/sis.h) and PDF streams (scan/pdf.h).
//
// A reader takes the whole container in memory, calls `sink` once per member in order, and
// returns OK or the first problem it met. It goes on past a problem where it can, so everything
// readable is emitted either way:
//   DataLoss           the container is truncated or malformed (reported Heuristics.Broken.<Format>)
//   Unimplemented      a recognised container uses a method accord cannot decode
//                      (Heuristics.Unsupported.<Format>)
//   ResourceExhausted  a cap of the reader's own was hit (a message naming it)
// Returning false from `sink` stops the reader at once; it then returns OK, or the first problem
// it had met before that member (a reader that goes on past a problem has already found it; the
// walker reports it like any other).
//
// Bounds: a reader MUST NOT produce a member longer than ReaderOptions::max_member_bytes (it cuts
// the member there and lets the walker see the cut: a member of exactly max_member_bytes is one
// that did not fit in max_member_bytes - 1), MUST check bounds before every read of the input (all
// of it is hostile) and MUST end in time linear in its input plus what it emits.
// Thread-safety: readers are pure functions; no state outside each call.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace accord::scan {

struct ReaderOptions {
  // Longest member produced; the walker passes its current member cap plus one.
  uint64_t max_member_bytes = uint64_t{100} << 20;
  // What the reader may decode in all, members cut at the cap included (what the container may
  // still produce under max_scan_size and the compression ratio): a reader that would decode more
  // (a solid stream, a packed image) stops there and returns ResourceExhausted, so a small file
  // cannot make it allocate or decode gigabytes that are thrown away.
  uint64_t max_total_bytes = uint64_t{400} << 20;
  // The container's own file name (last '!' component, no directories), for members whose
  // format stores no name: "CLAM.EX_" holds "CLAM.EXE". Only the SZDD and KWAJ readers use it; a
  // reader that does must be named in container.cc's OpenReader (WalkStats::named_after_top).
  std::string_view container_name;
};

struct ReaderMember {
  std::string name;  // as the format names it, control characters replaced by '_'
  Bytes data;
};
using MemberSink = std::function<bool(ReaderMember&& member)>;

// A member name fit for a display path: control characters become '_', cut at 1024 bytes, and an
// empty name becomes `fallback`.
inline std::string CleanReaderName(std::string_view name, std::string_view fallback) {
  std::string out(name.substr(0, std::min<size_t>(name.size(), 1024)));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  }
  return out.empty() ? std::string(fallback) : out;
}

// Little-endian reads for the binary formats. Callers MUST have checked `off + N <= d.size()`.
inline uint16_t Le16(std::string_view d, size_t off) {
  return static_cast<uint16_t>(static_cast<unsigned char>(d[off]) |
                               (static_cast<unsigned char>(d[off + 1]) << 8));
}
inline uint32_t Le32(std::string_view d, size_t off) {
  return static_cast<uint32_t>(Le16(d, off)) | (static_cast<uint32_t>(Le16(d, off + 2)) << 16);
}
inline uint64_t Le64(std::string_view d, size_t off) {
  return static_cast<uint64_t>(Le32(d, off)) | (static_cast<uint64_t>(Le32(d, off + 4)) << 32);
}

}  // namespace accord::scan
