// json::Parse / json::Serialize (core/canonical_json.h) and statement::Parse on the same arbitrary
// bytes.
//
// Properties: nothing crashes; whatever parses serializes, and the serialization parses back to
// an equal value and serializes to the same bytes (a fixed point); ParseCanonical accepts exactly
// the inputs equal to their serialization; a statement that parses has canonical bytes equal to
// the input, and its body passes ValidateBody.
#include <string>

#include "core/canonical_json.h"
#include "fuzz_common.h"
#include "statement/statement.h"

using namespace accord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(reinterpret_cast<const char*>(data), size);
  Result<json::Json> v = json::Parse(in);
  if (v.ok()) {
    Result<std::string> s = json::Serialize(*v);
    FUZZ_CHECK(s.ok());
    Result<json::Json> again = json::Parse(*s);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(*again == *v);
    Result<std::string> s2 = json::Serialize(*again);
    FUZZ_CHECK(s2.ok() && *s2 == *s);
    FUZZ_CHECK(json::ParseCanonical(in).ok() == (*s == in));
  }
  Result<statement::SignedStatement> st = statement::Parse(in);
  if (st.ok()) {
    FUZZ_CHECK(v.ok());
    FUZZ_CHECK(st->canonical == in);
    FUZZ_CHECK(*json::Serialize(*v) == in);
    FUZZ_CHECK(statement::ValidateBody(st->statement.kind, st->statement.body, st->statement.author).ok());
  }
  return 0;
}
