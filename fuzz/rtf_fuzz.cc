// scan::ReadRtf on arbitrary bytes.
//
// Properties: reader_fuzz.h's; decoding hex only shrinks, so all members together are at most
// half the text.
#include "reader_fuzz.h"
#include "scan/rtf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  fuzz::ReaderRun run = fuzz::CheckReader(in, scan::ReadRtf);
  FUZZ_CHECK(run.bytes <= in.size() / 2);
  return 0;
}
