// taxii::ParseObjectsQuery (node/taxii.h), the URL query of the TAXII objects endpoints, on arbitrary
// bytes; and taxii::ParseCursor, the `next` token, on the same bytes.
//
// Properties: nothing crashes; what parses is within the limits (limit >= 1, at most
// kMaxMatchValues match values, ids and types well-formed), formats to a query that parses back
// equal, and formats the same again (a fixed point); a cursor that parses formats back to the input.
#include <string>

#include "fuzz_common.h"
#include "node/taxii.h"

using namespace accord;
using namespace accord::node;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in = fuzz::AsBytes(data, size);
  Result<taxii::ObjectsQuery> q = taxii::ParseObjectsQuery(in);
  if (q.ok()) {
    FUZZ_CHECK(in.size() <= taxii::limits::kMaxQueryLength);
    FUZZ_CHECK(!q->limit || *q->limit >= 1);
    FUZZ_CHECK(q->ids.size() + q->types.size() + q->spec_versions.size() + q->version_at_ms.size() <=
               taxii::limits::kMaxMatchValues);
    for (const std::string& id : q->ids) FUZZ_CHECK(id.find("--") != std::string::npos);
    std::string text = taxii::FormatObjectsQuery(*q);
    Result<taxii::ObjectsQuery> again = taxii::ParseObjectsQuery(text);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(*again == *q);
    FUZZ_CHECK(taxii::FormatObjectsQuery(*again) == text);
  } else {
    FUZZ_CHECK(q.status().code() == Code::kInvalidArgument || q.status().code() == Code::kResourceExhausted);
    FUZZ_CHECK(!q.status().message().empty());
  }
  if (std::optional<taxii::Cursor> c = taxii::ParseCursor(in)) FUZZ_CHECK(taxii::FormatCursor(*c) == in);
  return 0;
}
