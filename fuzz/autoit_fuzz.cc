// scan::ReadAutoIt (AutoIt v3 compiled scripts, EA05 and EA06: key streams, AutoIt's LZSS) on
// arbitrary bytes.
//
// Properties: reader_fuzz.h's; what LooksLikeAutoIt refuses the reader refuses, with no member.
#include "reader_fuzz.h"
#include "scan/autoit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  fuzz::ReaderRun run = fuzz::CheckReader(in, scan::ReadAutoIt, 1 << 16);
  if (!scan::LooksLikeAutoIt(in)) FUZZ_CHECK(!run.status.ok() && run.members == 0);
  return 0;
}
