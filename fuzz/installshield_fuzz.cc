// scan::ReadInstallShield (InstallShield setup overlays, their cabinets, the MSI layout) on
// arbitrary bytes.
//
// Properties: reader_fuzz.h's; what LooksLikeInstallShield refuses is refused by the reader too.
#include "reader_fuzz.h"
#include "scan/installshield.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  fuzz::ReaderRun run = fuzz::CheckReader(in, scan::ReadInstallShield, 1 << 16);
  if (!scan::LooksLikeInstallShield(in)) FUZZ_CHECK(!run.status.ok() && run.members == 0);
  return 0;
}
