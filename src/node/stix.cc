#include "node/stix.h"

#include <openssl/evp.h>

#include <array>
#include <cassert>

#include "core/bytes.h"

namespace accord::node::stix {
namespace {

using json::Json;

std::optional<std::array<uint8_t, 16>> ParseUuid(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::array<uint8_t, 16> out{};
  size_t j = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int hi = HexDigitValue(text[i]), lo = HexDigitValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[j++] = static_cast<uint8_t>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string KeyBase64(const crypto::Ed25519PublicKey& key) {
  return Base64Encode(ByteView(reinterpret_cast<const char*>(key.data()), key.size()));
}

std::string Id(std::string_view type, std::string_view name) {
  return std::string(type) + "--" + Uuid5(kNamespace, name);
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

const Json* Member(const Json& o, const char* name) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(name);
  return it == o.end() ? nullptr : &*it;
}

std::string StringOr(const Json& o, const char* name, std::string fallback = "") {
  const Json* m = Member(o, name);
  return m && m->is_string() ? m->get<std::string>() : fallback;
}

Status Malformed(const Record& r, std::string_view what) {
  return DataLoss("log index " + std::to_string(r.index) + ": " + std::string(what));
}

// The body of the record's leaf. The node logged it after statement::Parse, so this only guards
// against an index that disagrees with its log; it does not verify the signature again.
Result<Json> LeafBody(const Record& r) {
  Json leaf = Json::parse(r.leaf, nullptr, /*allow_exceptions=*/false);
  const Json* st = leaf.is_discarded() ? nullptr : Member(leaf, "statement");
  const Json* body = st ? Member(*st, "body") : nullptr;
  if (!body || !body->is_object()) return Malformed(r, "leaf is not a signed statement");
  if (StringOr(*st, "kind") != statement::KindName(r.kind))
    return Malformed(r, "leaf kind differs from the index");
  return *body;
}

Result<int64_t> CreatedMs(const Record& r) {
  std::optional<int64_t> ms = ParseTimestamp(r.created);
  if (!ms) return Malformed(r, "bad created \"" + Printable(r.created) + "\"");
  return *ms;
}

// The node key of a node-attested leaf (statement.h): canonical bytes start with the attestation,
// whose first members are "alg" and "key". Empty for an author-signed statement.
std::string AttestingKey(std::string_view leaf) {
  constexpr std::string_view kPrefix = R"({"attestation":{"alg":"ed25519","key":")";
  if (!leaf.starts_with(kPrefix) || leaf.size() < kPrefix.size() + 45) return "";
  std::string_view key = leaf.substr(kPrefix.size(), 44);
  return leaf[kPrefix.size() + 44] == '"' ? std::string(key) : "";
}

Json Extension(const Record& r, const Context& ctx) {
  const std::string attester = AttestingKey(r.leaf);
  Json ext = {{"extension_type", "property-extension"},
              {"log_index", r.index},
              {"statement_id", r.id},
              {"statement_kind", statement::KindName(r.kind)},
              {"author_key", KeyBase64(r.author)},
              {"attested", !attester.empty()}};
  if (!attester.empty()) ext["attested_by"] = attester;
  if (!ctx.log_origin.empty()) ext["log_origin"] = ctx.log_origin;
  if (!ctx.checkpoint.empty() && r.index < ctx.checkpoint_size) ext["checkpoint"] = ctx.checkpoint;
  return ext;
}

// The properties every object derived from `r` shares.
Json Common(std::string_view type, std::string id, const Record& r, const std::string& created,
            const Context& ctx) {
  return {{"type", type},
          {"spec_version", "2.1"},
          {"id", std::move(id)},
          {"created", created},
          {"modified", created},
          {"created_by_ref", IdentityId(r.author)},
          {"object_marking_refs", {kTlpClearId}},
          {"extensions", {{kExtensionId, Extension(r, ctx)}}}};
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// "[file:hashes.'SHA-256' = '...' AND file:size = 68]": hash names from the STIX 2.1
// hash-algorithm-ov; names with '-' are quoted (STIX 2.1 patterning, object path syntax).
Result<std::string> HashComparison(const Record& r, const Json& e) {
  std::string algo = StringOr(e, "hash"), digest = StringOr(e, "digest");
  std::string name;
  if (algo == "md5") {
    name = "MD5";
  } else if (algo == "sha1") {
    name = "'SHA-1'";
  } else if (algo == "sha256") {
    name = "'SHA-256'";
  } else {
    return Malformed(r, "unknown hash \"" + Printable(algo) + "\"");
  }
  for (char c : digest) {
    if (HexDigitValue(c) < 0) return Malformed(r, "digest is not hex");
  }
  std::string out = "[file:hashes." + name + " = '" + digest + "'";
  const Json* size = Member(e, "size");
  if (size && size->is_number_unsigned()) out += " AND file:size = " + std::to_string(size->get<uint64_t>());
  return out + "]";
}

Json Indicator(const Record& r, const std::string& created, const Context& ctx, std::string pattern_type,
               std::string pattern) {
  Json o = Common("indicator", Id("indicator", "statement:" + r.id), r, created, ctx);
  o["pattern_type"] = std::move(pattern_type);
  o["pattern"] = std::move(pattern);
  o["valid_from"] = created;
  return o;
}

std::string CountedName(const std::vector<std::string>& names) {
  if (names.size() == 1) return names[0];
  return names[0] + " and " + std::to_string(names.size() - 1) + " more";
}

Result<std::vector<Json>> Registration(const Record& r, const Json& body, const std::string& created,
                                       const Context& ctx) {
  std::string key = KeyBase64(r.author);
  Json identity = Common("identity", IdentityId(r.author), r, created, ctx);
  identity.erase("created_by_ref");  // self-described: the registration is self-signed
  identity["name"] = StringOr(body, "name");
  identity["identity_class"] = "organization";
  identity["contact_information"] = StringOr(body, "contact");
  std::vector<Json> out{identity};
  std::string country = StringOr(body, "country");
  if (!country.empty()) {  // STIX 2.1 puts a country on a location, tied by "located-at"
    Json loc = Common("location", Id("location", "participant-location:" + key), r, created, ctx);
    loc["country"] = country;
    Json rel = Common("relationship", Id("relationship", "participant-located-at:" + key), r, created, ctx);
    rel["relationship_type"] = "located-at";
    rel["source_ref"] = identity["id"];
    rel["target_ref"] = loc["id"];
    out.push_back(std::move(loc));
    out.push_back(std::move(rel));
  }
  return out;
}

Result<std::vector<Json>> YaraRule(const Record& r, const Json& body, const std::string& created,
                                   const Context& ctx) {
  std::vector<std::string> rules;
  if (const Json* rs = Member(body, "rules"); rs && rs->is_array()) {
    for (const Json& n : *rs) {
      if (n.is_string()) rules.push_back(n.get<std::string>());
    }
  }
  if (rules.empty()) return Malformed(r, "yara-rule without rules");
  std::string description;
  if (const Json* meta = Member(body, "meta")) description = StringOr(*meta, "description");
  if (const Json* ref = Member(body, "source_ref")) {
    // The log holds only the hash of the source, so there is no pattern to give: a note says so.
    Json note = Common("note", Id("note", "statement:" + r.id), r, created, ctx);
    note["abstract"] = "YARA rules stored beside the log: " + JoinNames(rules);
    note["content"] = "The YARA source of rules " + JoinNames(rules) + " is stored beside the log (sha256 " +
                      StringOr(*ref, "sha256") +
                      "); the log holds only its hash, so no indicator is given for it.";
    note["object_refs"] = {IdentityId(r.author)};
    return std::vector<Json>{note};
  }
  const Json* source = Member(body, "source");
  if (!source || !source->is_string()) return Malformed(r, "yara-rule without source");
  Json ind = Indicator(r, created, ctx, "yara", source->get<std::string>());
  ind["name"] = JoinNames(rules);
  ind["indicator_types"] = {"malicious-activity"};
  if (!description.empty()) ind["description"] = description;
  return std::vector<Json>{ind};
}

Result<std::vector<Json>> HashSet(const Record& r, const Json& body, const std::string& created,
                                  const Context& ctx) {
  const Json* entries = Member(body, "entries");
  if (!entries || !entries->is_array() || entries->empty()) return Malformed(r, "hash-set without entries");
  std::string pattern;
  std::vector<std::string> names;
  for (const Json& e : *entries) {
    ASSIGN_OR_RETURN(std::string cmp, HashComparison(r, e));
    pattern += (pattern.empty() ? "" : " OR ") + cmp;
    names.push_back(StringOr(e, "name"));
  }
  Json ind = Indicator(r, created, ctx, "stix", std::move(pattern));
  ind["name"] = CountedName(names);
  ind["description"] = "Signature names, in pattern order: " + JoinNames(names);
  ind["indicator_types"] = {"malicious-activity"};
  return std::vector<Json>{ind};
}

Result<std::vector<Json>> TlshSet(const Record& r, const Json& body, const std::string& created,
                                  const Context& ctx) {
  const Json* entries = Member(body, "entries");
  if (!entries || !entries->is_array() || entries->empty()) return Malformed(r, "tlsh-set without entries");
  std::string pattern, description;
  std::vector<std::string> names;
  for (const Json& e : *entries) {
    std::string tlsh = StringOr(e, "tlsh");
    for (char c : tlsh) {
      if (HexDigitValue(c) < 0 && c != 'T') return Malformed(r, "tlsh is not hex");
    }
    const Json* threshold = Member(e, "threshold");
    uint64_t t = threshold && threshold->is_number_unsigned() ? threshold->get<uint64_t>() : 0;
    pattern += (pattern.empty() ? "" : " OR ") + ("[file:hashes.TLSH = '" + tlsh + "']");
    names.push_back(StringOr(e, "name"));
    description +=
        (description.empty() ? "" : ", ") + names.back() + " (distance <= " + std::to_string(t) + ")";
  }
  Json ind = Indicator(r, created, ctx, "stix", std::move(pattern));
  ind["name"] = CountedName(names);
  ind["description"] =
      "TLSH signatures, in pattern order, each matching files within the TLSH distance given (the pattern "
      "states exact equality only): " +
      description;
  ind["indicator_types"] = {"malicious-activity"};
  return std::vector<Json>{ind};
}

Result<std::vector<Json>> IndicatorKind(const Record& r, const Json& body, const std::string& created,
                                        const Context& ctx) {
  const Json* pattern = Member(body, "pattern");
  if (!pattern || !pattern->is_string()) return Malformed(r, "indicator without pattern");
  Json ind = Indicator(r, created, ctx, "stix", pattern->get<std::string>());
  if (std::string d = StringOr(body, "description"); !d.empty()) ind["description"] = d;
  return std::vector<Json>{ind};
}

Result<std::vector<Json>> Release(const Record& r, const Json& body, const std::string& created,
                                  const Context& ctx) {
  const Json* files = Member(body, "files");
  if (!files || !files->is_array() || files->empty()) return Malformed(r, "release without files");
  std::string pattern, paths;
  for (const Json& f : *files) {
    Json e = {{"hash", "sha256"}, {"digest", StringOr(f, "sha256")}};
    ASSIGN_OR_RETURN(std::string cmp, HashComparison(r, e));
    pattern += (pattern.empty() ? "" : " OR ") + cmp;
    paths += (paths.empty() ? "" : ", ") + StringOr(f, "path");
  }
  std::string name = StringOr(body, "name") + " " + StringOr(body, "version");
  Json ind = Indicator(r, created, ctx, "stix", std::move(pattern));
  ind["name"] = name;
  ind["description"] = "Files of release " + name + ", in pattern order: " + paths;
  ind["indicator_types"] = {"benign"};
  return std::vector<Json>{ind};
}

// The statement that `r`'s body names in `member` (an earlier log index).
Result<Record> Named(const Record& r, const RecordLookup& lookup, const Json& body, const char* member) {
  const Json* index = Member(body, member);
  if (!index || !index->is_number_unsigned()) return Malformed(r, std::string("no \"") + member + "\"");
  uint64_t i = index->get<uint64_t>();
  if (i >= r.index) return Malformed(r, "names a later statement, index " + std::to_string(i));
  ASSIGN_OR_RETURN(std::optional<Record> target, lookup(i));
  if (!target) return Malformed(r, "names missing statement " + std::to_string(i));
  return *std::move(target);
}

Result<std::vector<Json>> AuditFinding(const Record& r, const Json& body, const std::string& created,
                                       const Context& ctx, const RecordLookup& lookup) {
  ASSIGN_OR_RETURN(Record about, Named(r, lookup, body, "about"));
  ASSIGN_OR_RETURN(std::string about_id, MainObjectId(about, lookup));
  std::string verdict = StringOr(body, "verdict");
  std::string opinion;
  if (verdict == "confirmed") {
    opinion = "agree";
  } else if (verdict == "disputed") {
    opinion = "disagree";
  } else if (verdict == "false-positive" || verdict == "harmful") {
    opinion = "strongly-disagree";
  } else {
    return Malformed(r, "unknown verdict \"" + Printable(verdict) + "\"");
  }
  Json o = Common("opinion", Id("opinion", "statement:" + r.id), r, created, ctx);
  o["opinion"] = opinion;
  o["explanation"] = StringOr(body, "text");
  o["object_refs"] = {about_id};
  o["extensions"][kExtensionId]["audit_verdict"] = verdict;
  o["extensions"][kExtensionId]["about_index"] = about.index;
  return std::vector<Json>{o};
}

Result<std::vector<Json>> Retraction(const Record& r, const Json& body, int64_t created_ms,
                                     const Context& ctx, const RecordLookup& lookup) {
  ASSIGN_OR_RETURN(Record target, Named(r, lookup, body, "index"));
  if (target.kind == statement::Kind::kRetraction) return std::vector<Json>{};  // revocation is final
  ASSIGN_OR_RETURN(std::vector<Json> objects, StixObjects(target, lookup, ctx));
  ASSIGN_OR_RETURN(int64_t target_ms, CreatedMs(target));
  // A version's "modified" MUST be later than the one it replaces, whatever the author's clock said.
  std::string modified = FormatTimestamp(std::max(created_ms, target_ms + 1));
  Json ext = Extension(r, ctx);
  ext["retracted_index"] = target.index;
  if (std::string reason = StringOr(body, "reason"); !reason.empty()) ext["retraction_reason"] = reason;
  for (Json& o : objects) {
    o["modified"] = modified;
    o["revoked"] = true;
    o["extensions"] = {{kExtensionId, ext}};
  }
  return objects;
}

}  // namespace

std::string Uuid5(std::string_view namespace_uuid, std::string_view name) {
  std::optional<std::array<uint8_t, 16>> ns = ParseUuid(namespace_uuid);
  assert(ns.has_value());
  if (!ns) return {};
  std::string input(reinterpret_cast<const char*>(ns->data()), ns->size());
  input.append(name);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 9562 variant
  std::string hex = HexEncode(ByteView(reinterpret_cast<const char*>(digest), 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

namespace {

// "YYYY-MM-DDTHH:MM:SS" and `digits` of fraction of a time in units of 10^-digits s.
std::string FormatFraction(int64_t units, int64_t per_second, int digits) {
  const int64_t per_day = 86400 * per_second;
  int64_t days = units / per_day, rem = units % per_day;
  if (rem < 0) {
    rem += per_day;
    --days;
  }
  // civil_from_days (H. Hinnant)
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  const int64_t secs = rem / per_second;
  char buf[48];
  snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%0*lldZ", static_cast<long long>(y), m, d,
           static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
           static_cast<long long>(secs % 60), digits, static_cast<long long>(rem % per_second));
  return buf;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

}  // namespace

std::string FormatTimestamp(int64_t unix_ms) {
  return FormatFraction(unix_ms, 1000, 3);
}

std::string FormatTimestampUs(int64_t unix_us) {
  return FormatFraction(unix_us, 1000000, 6);
}

namespace {

// ParseTimestamp with years from `min_year` on, in Unix microseconds (finer digits cut).
std::optional<int64_t> ParseTimestampFrom(std::string_view t, unsigned min_year) {
  auto digits = [&](size_t pos, size_t n) -> std::optional<unsigned> {
    if (pos + n > t.size()) return std::nullopt;
    unsigned v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(t[i] - '0');
    }
    return v;
  };
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':') {
    return std::nullopt;
  }
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2), h = digits(11, 2), mi = digits(14, 2),
       s = digits(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *y < min_year || *mo < 1 || *mo > 12 || *d < 1 || *h > 23 ||
      *mi > 59 || *s > 60) {
    return std::nullopt;
  }
  static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
  if (*d > kDays[*mo - 1] || (*mo == 2 && *d == 29 && !leap)) return std::nullopt;
  size_t pos = 19;
  int64_t us = 0;
  if (t[pos] == '.') {
    size_t start = ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (pos - start < 6) us = us * 10 + (t[pos] - '0');
      ++pos;
    }
    if (pos == start) return std::nullopt;
    for (size_t n = pos - start; n < 6; ++n) us *= 10;
  }
  if (pos + 1 != t.size() || t[pos] != 'Z') return std::nullopt;
  int64_t days = DaysFromCivil(*y, *mo, *d);
  return (((days * 24 + *h) * 60 + *mi) * 60 + int64_t{*s}) * 1000000 + us;
}

}  // namespace

// Cutting the fraction to milliseconds is flooring the microseconds: the fraction is added to
// a whole second.
std::optional<int64_t> ParseTimestamp(std::string_view text) {
  std::optional<int64_t> us = ParseTimestampFrom(text, 1970);
  if (!us) return std::nullopt;
  return FloorDiv(*us, 1000);
}

std::optional<int64_t> ParseTimestampAnyYear(std::string_view text) {
  std::optional<int64_t> us = ParseTimestampFrom(text, 0);
  if (!us) return std::nullopt;
  return FloorDiv(*us, 1000);
}

std::optional<int64_t> ParseTimestampAnyYearUs(std::string_view text) {
  return ParseTimestampFrom(text, 0);
}

Context MakeContext(std::string log_origin, std::string checkpoint_text) {
  Context ctx;
  ctx.log_origin = std::move(log_origin);
  size_t a = checkpoint_text.find('\n');
  size_t b = a == std::string::npos ? a : checkpoint_text.find('\n', a + 1);
  if (b != std::string::npos) {
    if (std::optional<uint64_t> size =
            ParseDecimal(std::string_view(checkpoint_text).substr(a + 1, b - a - 1))) {
      ctx.checkpoint_size = *size;
      ctx.checkpoint = std::move(checkpoint_text);
    }
  }
  return ctx;
}

std::string IdentityId(const crypto::Ed25519PublicKey& key) {
  return Id("identity", "participant:" + KeyBase64(key));
}

std::vector<Json> FixedObjects() {
  Json tlp = {
      {"type", "marking-definition"},
      {"spec_version", "2.1"},
      {"id", kTlpClearId},
      {"created", "2022-10-01T00:00:00.000Z"},
      {"name", "TLP:CLEAR"},
      {"extensions", {{kTlp2ExtensionId, {{"extension_type", "property-extension"}, {"tlp_2_0", "clear"}}}}}};
  Json accord = {
      {"type", "identity"},
      {"spec_version", "2.1"},
      {"id", kAccordIdentityId},
      {"created", kFixedObjectsCreated},
      {"modified", kFixedObjectsCreated},
      {"name", "accord"},
      {"identity_class", "system"},
      {"description", "The accord exchange log software, which defines the accord statement extension."},
      {"object_marking_refs", {kTlpClearId}}};
  Json ext = {
      {"type", "extension-definition"},
      {"spec_version", "2.1"},
      {"id", kExtensionId},
      {"created", kFixedObjectsCreated},
      {"modified", kFixedObjectsCreated},
      {"created_by_ref", kAccordIdentityId},
      {"name", "accord statement"},
      {"description",
       "Where an object comes from in an accord transparency log: the log index and id (SHA-256 of the leaf) "
       "of "
       "the signed statement it was derived from, its author's Ed25519 key, the log origin and a signed "
       "checkpoint that covers it, and whether the statement is author-signed or node-attested."},
      {"schema", "accord docs/taxii.md, section \"The accord statement extension\""},
      {"version", "1.0"},
      {"extension_types", {"property-extension"}},
      {"object_marking_refs", {kTlpClearId}}};
  return {tlp, accord, ext};
}

Result<std::vector<Json>> StixObjects(const Record& r, const RecordLookup& lookup, const Context& ctx) {
  ASSIGN_OR_RETURN(Json body, LeafBody(r));
  ASSIGN_OR_RETURN(int64_t created_ms, CreatedMs(r));
  std::string created = FormatTimestamp(created_ms);
  switch (r.kind) {
    case statement::Kind::kRegistration:
      return Registration(r, body, created, ctx);
    case statement::Kind::kYaraRule:
      return YaraRule(r, body, created, ctx);
    case statement::Kind::kHashSet:
      return HashSet(r, body, created, ctx);
    case statement::Kind::kTlshSet:
      return TlshSet(r, body, created, ctx);
    case statement::Kind::kIndicator:
      return IndicatorKind(r, body, created, ctx);
    case statement::Kind::kRetraction:
      return Retraction(r, body, created_ms, ctx, lookup);
    case statement::Kind::kAuditFinding:
      return AuditFinding(r, body, created, ctx, lookup);
    case statement::Kind::kRelease:
      return Release(r, body, created, ctx);
  }
  return Malformed(r, "unknown kind");
}

Result<std::string> MainObjectId(const Record& r, const RecordLookup& lookup) {
  switch (r.kind) {
    case statement::Kind::kRegistration:
      return IdentityId(r.author);
    case statement::Kind::kYaraRule: {
      ASSIGN_OR_RETURN(Json body, LeafBody(r));
      return Id(Member(body, "source_ref") ? "note" : "indicator", "statement:" + r.id);
    }
    case statement::Kind::kAuditFinding:
      return Id("opinion", "statement:" + r.id);
    case statement::Kind::kRetraction: {
      // A retraction stands for what it revoked; a retraction of a retraction for its author.
      ASSIGN_OR_RETURN(Json body, LeafBody(r));
      ASSIGN_OR_RETURN(Record target, Named(r, lookup, body, "index"));
      if (target.kind == statement::Kind::kRetraction) return IdentityId(r.author);
      return MainObjectId(target, lookup);
    }
    default:
      return Id("indicator", "statement:" + r.id);
  }
}

namespace {

bool IsStixIdOf(std::string_view id, std::string_view type) {
  return id.size() == type.size() + 2 + 36 && id.substr(0, type.size()) == type &&
         id.substr(type.size(), 2) == "--" && ParseUuid(id.substr(type.size() + 2)).has_value();
}

// At most `max` bytes of `text`, cut on a UTF-8 character boundary.
std::string CutUtf8(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (uint8_t(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

Result<PostedBody> BodyFromObject(const Json& o) {
  if (!o.is_object()) return InvalidArgument("not a STIX object (not a JSON object)");
  const std::string type = StringOr(o, "type");
  if (type != "indicator")
    return InvalidArgument("a " + (type.empty() ? std::string("typeless") : Printable(type)) +
                           " object is not logged: accord logs indicators (pattern_type yara or stix); "
                           "identities, markings and relationships are derived from the statements");
  if (StringOr(o, "spec_version") != "2.1") return InvalidArgument("not a STIX 2.1 object (spec_version)");
  if (!IsStixIdOf(StringOr(o, "id"), "indicator")) return InvalidArgument("id: not an indicator id");
  for (const char* t : {"created", "modified", "valid_from"}) {
    if (!ParseTimestamp(StringOr(o, t)))
      return InvalidArgument(std::string(t) + ": missing or not a STIX timestamp");
  }
  // What a statement cannot say is refused, not dropped: a revoked or expiring indicator logged
  // without it would be published as a live one, for ever.
  if (const Json* revoked = Member(o, "revoked"); revoked && *revoked != Json(false))
    return InvalidArgument(
        "revoked: a posted object cannot revoke anything, and a revoked one is not logged; a logged "
        "statement is revoked by its author's signed retraction (accord submit --retract INDEX)");
  if (o.contains("valid_until"))
    return InvalidArgument(
        "valid_until: a statement cannot carry an expiry, and the indicator would be published without "
        "one; post it without valid_until, and end it with its author's signed retraction (accord "
        "submit --retract INDEX)");
  // TLP: the object must say TLP:CLEAR, and nothing more restrictive anywhere.
  if (o.contains("granular_markings"))
    return InvalidArgument(
        "granular_markings: not accepted; this public log takes whole objects marked TLP:CLEAR");
  const Json* marks = Member(o, "object_marking_refs");
  bool clear = false;
  if (marks && marks->is_array()) {
    for (const Json& m : *marks) {
      std::string ref = m.is_string() ? m.get<std::string>() : "";
      if (ref == kTlpClearId || ref == kTlpWhiteId) {
        clear = true;
      } else {
        return InvalidArgument("marked " + Printable(ref) +
                               ": this public log takes TLP:CLEAR only (marking " + std::string(kTlpClearId) +
                               ")");
      }
    }
  }
  if (!clear)
    return InvalidArgument("not marked TLP:CLEAR: this public log takes TLP:CLEAR only; put " +
                           std::string(kTlpClearId) + " in object_marking_refs");
  const Json* pattern = Member(o, "pattern");
  if (!pattern || !pattern->is_string() || pattern->get_ref<const std::string&>().empty())
    return InvalidArgument("pattern: missing or empty");
  const std::string pattern_type = StringOr(o, "pattern_type");
  const std::string id = StringOr(o, "id");
  std::string description = StringOr(o, "description");
  PostedBody out;
  if (pattern_type == "yara") {
    ASSIGN_OR_RETURN(std::vector<std::string> names, statement::YaraRuleNames(pattern->get<std::string>()));
    Json meta = {{"stix_id", id}};
    std::string name = StringOr(o, "name");
    if (!name.empty()) meta["name"] = CutUtf8(name, statement::limits::kMaxTextField);
    if (!description.empty()) {
      meta["description"] = CutUtf8(description, statement::limits::kMaxTextField);
      if (description.size() > statement::limits::kMaxTextField) out.note = "description cut to 1024 bytes";
    }
    out.kind = statement::Kind::kYaraRule;
    out.body = {{"source", *pattern}, {"rules", names}, {"meta", std::move(meta)}};
  } else if (pattern_type == "stix") {
    out.kind = statement::Kind::kIndicator;
    out.body = {{"pattern", *pattern}};
    if (!description.empty()) {
      out.body["description"] = CutUtf8(description, statement::limits::kMaxLongText);
      if (description.size() > statement::limits::kMaxLongText) out.note = "description cut to 16 KiB";
    }
  } else {
    return InvalidArgument("pattern_type " +
                           (pattern_type.empty() ? std::string("missing") : Printable(pattern_type)) +
                           ": accord logs yara and stix patterns only");
  }
  // The YARA source compiled above; the indicator body is checked here (statement::Attest checks
  // both again before anything is signed).
  if (out.kind == statement::Kind::kIndicator)
    RETURN_IF_ERROR(statement::ValidateBody(out.kind, out.body, crypto::Ed25519PublicKey{}));
  return out;
}

std::string ObjectVersion(const Json& object) {
  std::string v = StringOr(object, "modified");
  return v.empty() ? StringOr(object, "created") : v;
}

}  // namespace accord::node::stix
