// scan::Walker on arbitrary bytes, with small limits, and the text decoders of scan/mime.h.
//
// Properties: the walk never crashes, hangs or allocates without bound; every item respects the
// limits it was walked under (depth, member size, bytes per file) and is named below the top-level
// path; every event has a ClamAV-style name. MIME, uuencode and data: URI decoding never expands
// the text (mime.h's bound), which is what lets the walker decode before counting bytes.
#include <string>

#include "fuzz_common.h"
#include "scan/container.h"
#include "scan/mime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);

  scan::ContainerLimits limits;
  limits.max_recursion = 4;
  limits.max_file_size = 1 << 20;
  limits.max_scan_size = 4 << 20;
  limits.max_files = 64;
  limits.max_scan_time = std::chrono::milliseconds(5000);
  limits.max_compression_ratio = 100;
  limits.compression_ratio_floor = 1 << 20;
  uint64_t items = 0;
  scan::WalkStats stats = scan::Walker(limits).Walk(
      in, "in",
      [&](const scan::Item& item) {
        ++items;
        FUZZ_CHECK(item.depth >= 0 && item.depth <= limits.max_recursion);
        FUZZ_CHECK(item.depth == 0 || item.data.size() <= limits.max_file_size);
        FUZZ_CHECK(item.path == "in" || item.path.starts_with("in!"));
        FUZZ_CHECK((item.depth == 0) == item.container.empty());
      },
      [&](const scan::Event& e) {
        FUZZ_CHECK(e.name.starts_with("Heuristics."));
        FUZZ_CHECK(!e.message.empty());
        FUZZ_CHECK(e.path == "in" || e.path.starts_with("in!"));
      });
  FUZZ_CHECK(stats.items == items);
  FUZZ_CHECK(stats.bytes_extracted <= limits.max_scan_size);

  scan::mime::DecodeOptions options;
  options.max_output = 1 << 20;
  for (auto decode : {scan::mime::DecodeMail, scan::mime::DecodeUuencode, scan::mime::DecodeDataUris}) {
    size_t total = 0;
    Status s = decode(in, options, [&](scan::mime::Part&& part) {
      total += part.data.size();
      return true;
    });
    FUZZ_CHECK(total <= in.size() + 3);
    FUZZ_CHECK(s.ok() || !s.message().empty());
  }
  size_t binhex = 0;
  (void)scan::mime::DecodeBinhex(in, options, [&](scan::mime::Part&& part) {
    binhex += part.data.size();
    return true;
  });
  FUZZ_CHECK(binhex <= options.max_output);
  return 0;
}
