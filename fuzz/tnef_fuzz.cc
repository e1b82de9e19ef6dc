// scan::ReadTnef on arbitrary bytes.
//
// Properties: reader_fuzz.h's; attachments are slices of the input, so together no longer than it.
#include "reader_fuzz.h"
#include "scan/tnef.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  fuzz::ReaderRun run = fuzz::CheckReader(in, scan::ReadTnef);
  FUZZ_CHECK(run.bytes <= in.size());
  return 0;
}
