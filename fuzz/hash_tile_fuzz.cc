// tlog::ParseHashTile on arbitrary bytes. The first byte picks the width (1..256), the rest is the
// tile, as a client gets it from a server it does not trust.
//
// Properties: a tile parses exactly when it is width * 32 bytes, and then its hashes are its bytes
// in order.
#include <cstring>

#include "fuzz_common.h"
#include "tlog/tile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  fuzz::FuzzInput in(fuzz::AsBytes(data, size));
  uint32_t width = uint32_t(in.Byte()) + 1;
  ByteView tile = in.Rest();
  Result<std::vector<tlog::Hash>> hashes = tlog::ParseHashTile(tile, width);
  FUZZ_CHECK(hashes.ok() == (tile.size() == size_t(width) * 32));
  if (!hashes.ok()) return 0;
  FUZZ_CHECK(hashes->size() == width);
  for (uint32_t i = 0; i < width; ++i)
    FUZZ_CHECK(std::memcmp((*hashes)[i].data(), tile.data() + 32 * i, 32) == 0);
  return 0;
}
