// Shared by the fuzz targets of accord's own container readers (scan/reader.h): runs one reader on
// the input with a small member cap and checks the contract every reader promises.
//
// Properties: no member is longer than ReaderOptions::max_member_bytes; every member has a
// non-empty name without control characters; a failure comes with a message; a reader stops when
// the sink says so (the sink refuses after kMaxMembers).
#pragma once

#include <cstdint>

#include "fuzz_common.h"
#include "scan/reader.h"

namespace accord::fuzz {

struct ReaderRun {
  uint64_t members = 0;
  uint64_t bytes = 0;
  Status status;
};

inline constexpr uint64_t kMaxMembers = 200;

template <typename Read>
ReaderRun CheckReader(ByteView in, Read read, uint64_t cap = uint64_t{1} << 20) {
  scan::ReaderOptions options;
  options.max_member_bytes = cap;
  options.container_name = "in.ex_";
  ReaderRun run;
  bool refused = false;
  run.status = read(in, options, [&](scan::ReaderMember&& m) {
    FUZZ_CHECK(!refused);
    ++run.members;
    run.bytes += m.data.size();
    FUZZ_CHECK(m.data.size() <= cap);
    FUZZ_CHECK(!m.name.empty());
    for (char c : m.name) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    refused = run.members >= kMaxMembers;
    return !refused;
  });
  FUZZ_CHECK(run.status.ok() || !run.status.message().empty());
  return run;
}

}  // namespace accord::fuzz
