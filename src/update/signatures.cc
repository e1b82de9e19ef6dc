#include "update/signatures.h"

#include <optional>

#include "scan/sigfile.h"
#include "scan/tlsh.h"

namespace accord::update {

Result<size_t> AddHashSetSignatures(scan::DatabaseBuilder& db, uint32_t source, const json::Json& body) {
  size_t added = 0;
  for (const auto& e : body.at("entries")) {
    const std::string& kind = e.at("hash").get_ref<const std::string&>();
    scan::HashKind k = kind == "md5"    ? scan::HashKind::kMd5
                       : kind == "sha1" ? scan::HashKind::kSha1
                                        : scan::HashKind::kSha256;
    std::optional<Bytes> digest = HexDecode(e.at("digest").get_ref<const std::string&>());
    if (!digest) return InvalidArgument("a digest that is not hex");
    std::optional<uint64_t> size;
    if (e.contains("size") && !e.at("size").is_null()) size = e.at("size").get<uint64_t>();
    RETURN_IF_ERROR(db.Add(scan::HashFileRole::kDetect, source, k, *digest, size,
                           e.at("name").get_ref<const std::string&>()));
    ++added;
  }
  return added;
}

Result<size_t> AddTlshSetSignatures(scan::DatabaseBuilder& db, uint32_t source, const json::Json& body) {
  size_t added = 0;
  for (const auto& e : body.at("entries")) {
    std::optional<scan::TlshDigest> d = scan::ParseTlsh(e.at("tlsh").get_ref<const std::string&>());
    if (!d) return InvalidArgument("a TLSH digest that does not parse");
    RETURN_IF_ERROR(db.AddTlsh(
        source, scan::TlshSignature{*d, e.at("threshold").get<uint32_t>(), e.at("name").get<std::string>()}));
    ++added;
  }
  return added;
}

std::string Displayable(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string Citation(std::string_view origin, uint64_t index, std::string_view name, std::string_view country,
                     uint64_t checkpoint_size) {
  return "log " + std::string(origin) + " entry " + std::to_string(index) + " by " + Displayable(name) +
         (country.empty() ? "" : " (" + Displayable(country) + ")") + ", checkpoint " +
         std::to_string(checkpoint_size);
}

Bytes BigEndian64(uint64_t v) {
  Bytes out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = char(v & 0xff);
  return out;
}

std::optional<uint64_t> FromBigEndian64(ByteView b) {
  if (b.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (char c : b) v = v << 8 | static_cast<unsigned char>(c);
  return v;
}

}  // namespace accord::update
