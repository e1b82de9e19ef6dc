#include "update/provenance.h"

#include "core/bytes.h"
#include "core/limits.h"

namespace accord::update {

Bytes FormatProvenance(const Provenance& p) {
  Bytes out(kProvenanceHeader);
  out += "\npolicy " + std::to_string(p.policy.size()) + "\n" + p.policy;
  out += "checkpoint " + std::to_string(p.checkpoint.size()) + "\n" + p.checkpoint;
  if (p.trust_attested) out += "trust attested\n";
  return out;
}

namespace {
Result<std::string> Field(ByteView& in, std::string_view name) {
  std::string prefix = std::string(name) + " ";
  size_t nl = in.find('\n');
  if (in.substr(0, prefix.size()) != prefix || nl == ByteView::npos)
    return DataLoss("provenance: no \"" + std::string(name) + "\" line");
  std::optional<uint64_t> n = ParseDecimal(in.substr(prefix.size(), nl - prefix.size()));
  if (!n || *n > limits::kMaxPolicySize || *n > in.size() - nl - 1)
    return DataLoss("provenance: bad length of \"" + std::string(name) + "\"");
  std::string value(in.substr(nl + 1, *n));
  in.remove_prefix(nl + 1 + *n);
  return value;
}
}  // namespace

Result<Provenance> ParseProvenance(ByteView data) {
  if (data.substr(0, kProvenanceHeader.size() + 1) != std::string(kProvenanceHeader) + "\n")
    return DataLoss("provenance: not " + std::string(kProvenanceHeader));
  data.remove_prefix(kProvenanceHeader.size() + 1);
  Provenance p;
  ASSIGN_OR_RETURN(p.policy, Field(data, "policy"));
  ASSIGN_OR_RETURN(p.checkpoint, Field(data, "checkpoint"));
  if (data == "trust attested\n") {
    p.trust_attested = true;
    data = {};
  }
  if (!data.empty()) return DataLoss("provenance: bytes after the checkpoint");
  return p;
}

}  // namespace accord::update
