// scan::ReadArj (ARJ archives, all five methods) on arbitrary bytes.
//
// Properties: reader_fuzz.h's; what LooksLikeArj accepts has a main header the reader gets past.
#include "reader_fuzz.h"
#include "scan/arj.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  fuzz::ReaderRun run = fuzz::CheckReader(in, scan::ReadArj, 1 << 16);
  if (scan::LooksLikeArj(in) && !run.status.ok()) {
    FUZZ_CHECK(run.status.message().find("offset 0") == std::string::npos);
  }
  return 0;
}
