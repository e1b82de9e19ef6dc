// update::ParseProvenance (update/provenance.h), which `accord scan` runs on every database's
// provenance section before it trusts the database.
//
// Properties: nothing crashes; whatever parses formats back to the same bytes (the format has one
// spelling), and FormatProvenance's output always parses back to the same fields.
#include <string>

#include "fuzz_common.h"
#include "update/provenance.h"

using namespace accord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(reinterpret_cast<const char*>(data), size);
  Result<update::Provenance> p = update::ParseProvenance(in);
  if (p.ok()) FUZZ_CHECK(update::FormatProvenance(*p) == in);
  // Any split of the input into two fields (within the size limit) round-trips.
  size_t half = size / 2;
  if (size - half > 256 * 1024) return 0;
  update::Provenance made{std::string(in.substr(0, half)), std::string(in.substr(half))};
  Result<update::Provenance> back = update::ParseProvenance(update::FormatProvenance(made));
  FUZZ_CHECK(back.ok() && back->policy == made.policy && back->checkpoint == made.checkpoint);
  return 0;
}
