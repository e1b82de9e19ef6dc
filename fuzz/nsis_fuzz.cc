// scan::ReadNsis (NSIS installers: non-solid and solid blocks, LZMA through liblzma, deflate
// through zlib) on arbitrary bytes.
//
// Properties: reader_fuzz.h's; what LooksLikeNsis refuses the reader refuses, with no member.
#include "reader_fuzz.h"
#include "scan/nsis.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  fuzz::ReaderRun run = fuzz::CheckReader(in, scan::ReadNsis, 1 << 16);
  if (!scan::LooksLikeNsis(in)) FUZZ_CHECK(!run.status.ok() && run.members == 0);
  return 0;
}
