// tlog::ParseEntryBundle on arbitrary bytes. The first byte picks the width (1..256), the rest is
// the bundle, as a client gets it from a server it does not trust.
//
// Properties: a parsed bundle has exactly `width` entries, each a view into the input, and
// re-encoding them with AppendBundleEntry gives back the input byte for byte (no trailing bytes,
// no ambiguity in where an entry ends).
#include "fuzz_common.h"
#include "tlog/tile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  fuzz::FuzzInput in(fuzz::AsBytes(data, size));
  uint32_t width = uint32_t(in.Byte()) + 1;
  ByteView bundle = in.Rest();
  Result<std::vector<ByteView>> entries = tlog::ParseEntryBundle(bundle, width);
  if (!entries.ok()) return 0;
  FUZZ_CHECK(entries->size() == width);
  Bytes again;
  for (ByteView e : *entries) {
    FUZZ_CHECK(e.data() >= bundle.data() && e.data() + e.size() <= bundle.data() + bundle.size());
    tlog::AppendBundleEntry(again, e);
  }
  FUZZ_CHECK(again == bundle);
  return 0;
}
