#include "node/taxii.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <list>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "core/bytes.h"
#include "core/canonical_json.h"
#include "core/limits.h"
#include "node/stix.h"

namespace accord::node::taxii {
namespace {

using json::Json;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

Result<std::string> PercentDecode(std::string_view s) {
  auto out = accord::PercentDecode(s, /*plus_is_space=*/true);
  if (!out) return InvalidArgument("query: bad percent escape in \"" + Printable(s) + "\"");
  return std::move(out).value();
}

// A STIX type name: lower-case letters, digits and '-', 3 to 250 characters (STIX 2.1 3.1).
bool IsStixType(std::string_view t) {
  if (t.size() < 3 || t.size() > 250 || !(t.front() >= 'a' && t.front() <= 'z') || t.back() == '-')
    return false;
  return std::all_of(t.begin(), t.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool IsUuid(std::string_view u) {
  if (u.size() != 36) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? u[i] != '-' : HexDigitValue(u[i]) < 0) return false;
  }
  return true;
}

bool IsStixId(std::string_view id) {
  size_t sep = id.find("--");
  return sep != std::string_view::npos && IsStixType(id.substr(0, sep)) && IsUuid(id.substr(sep + 2));
}

bool IsSpecVersion(std::string_view v) {
  size_t dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size() || v.size() > 16) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) &&
         v.find('.', dot + 1) == std::string_view::npos;
}

bool IsFixedObject(std::string_view id) {
  return id == stix::kTlpClearId || id == stix::kAccordIdentityId || id == stix::kExtensionId;
}

// Whether an Accept header admits TAXII 2.1 JSON. No header admits everything; so do "*/*",
// "application/*" and "application/taxii+json" without a version (TAXII 2.1 section 1.6.8.1).
bool Acceptable(std::string_view accept) {
  if (Trim(accept).empty()) return true;
  for (std::string_view range : Split(accept, ',')) {
    std::vector<std::string_view> parts = Split(range, ';');
    std::string type = Lower(Trim(parts[0]));
    bool version_ok = true, zero_q = false;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string_view p = Trim(parts[i]);
      size_t eq = p.find('=');
      if (eq == std::string_view::npos) continue;
      std::string key = Lower(Trim(p.substr(0, eq)));
      std::string_view value = Trim(p.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      if (key == "version") version_ok = value == "2.1";
      if (key == "q") zero_q = value.find_first_not_of("0.") == std::string_view::npos;
    }
    if (zero_q) continue;
    if (type == "*/*" || type == "application/*") return true;
    if (type == "application/taxii+json" && version_ok) return true;
  }
  return false;
}

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

TaxiiResponse Error(int status, std::string title, std::string description) {
  TaxiiResponse r;
  r.status = status;
  r.content_type = std::string(kMediaType);
  r.body = Dump(Json{{"title", std::move(title)},
                     {"description", std::move(description)},
                     {"http_status", std::to_string(status)}});
  return r;
}

}  // namespace

TaxiiResponse ErrorResponse(int status, std::string_view description) {
  const char* title = status == 400   ? "Bad request"
                      : status == 408 ? "Request timeout"
                      : status == 413 ? "Request too large"
                      : status == 431 ? "Request header fields too large"
                      : status == 503 ? "Unavailable"
                      : status >= 500 ? "Internal error"
                                      : "Error";
  return Error(status, title, std::string(description));
}

namespace {

TaxiiResponse FromStatus(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument:
      return Error(400, "Bad request", s.message());
    case Code::kResourceExhausted:
      return Error(400, "Request too large", s.message());
    case Code::kNotFound:
      return Error(404, "Not found", s.message());
    case Code::kUnavailable:
      return Error(503, "Unavailable", s.message());
    default:
      return Error(500, "Internal error", "the node's index failed: " + s.ToString());
  }
}

TaxiiResponse Ok(const Json& body) {
  TaxiiResponse r;
  r.content_type = std::string(kMediaType);
  r.body = Dump(body);
  return r;
}

// A random (version 4) UUID, for status resources.
std::string Uuid4() {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof b) != 1) std::abort();  // OpenSSL's CSPRNG cannot fail once seeded
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  std::string hex = HexEncode(ByteView(reinterpret_cast<const char*>(b), sizeof b));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

// Whether a Content-Type is TAXII 2.1 JSON (a missing version parameter is taken as 2.1).
bool IsTaxiiContentType(std::string_view content_type) {
  std::vector<std::string_view> parts = Split(content_type, ';');
  if (Lower(Trim(parts[0])) != "application/taxii+json") return false;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view p = Trim(parts[i]);
    size_t eq = p.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view value = Trim(p.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (Lower(Trim(p.substr(0, eq))) == "version" && value != "2.1") return false;
  }
  return true;
}

TaxiiResponse Unauthorized(std::string description) {
  TaxiiResponse r = Error(401, "Unauthorized", std::move(description));
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"accord TAXII\", Basic realm=\"accord TAXII\"");
  return r;
}

std::string KeyBase64(const crypto::Ed25519PublicKey& key) {
  return Base64Encode(ByteView(reinterpret_cast<const char*>(key.data()), key.size()));
}

}  // namespace

std::string FormatCursor(const Cursor& c) {
  return std::to_string(c.index) + "." + std::to_string(c.skip);
}

std::optional<Cursor> ParseCursor(std::string_view text) {
  size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::optional<uint64_t> index = ParseDecimal(text.substr(0, dot));
  std::optional<uint64_t> skip = ParseDecimal(text.substr(dot + 1));
  if (!index || !skip || *index > uint64_t(json::kMaxSafeInteger) || *skip > limits::kMaxCursorSkip) {
    return std::nullopt;
  }
  return Cursor{*index, *skip};
}

Result<ObjectsQuery> ParseObjectsQuery(std::string_view raw) {
  if (raw.size() > limits::kMaxQueryLength) {
    return ResourceExhausted("query: " + std::to_string(raw.size()) + " bytes, at most " +
                             std::to_string(limits::kMaxQueryLength));
  }
  ObjectsQuery q;
  bool seen_added_after = false;
  size_t match_values = 0;
  for (std::string_view param : Split(raw, '&')) {
    if (param.empty()) continue;
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("query: parameter \"" + Printable(param) + "\" has no value");
    }
    ASSIGN_OR_RETURN(std::string name, PercentDecode(param.substr(0, eq)));
    ASSIGN_OR_RETURN(std::string value, PercentDecode(param.substr(eq + 1)));
    std::string where = "query: " + Printable(name);
    if (value.empty()) return InvalidArgument(where + ": empty value");
    if (name == "added_after") {
      if (seen_added_after) return InvalidArgument(where + ": given twice");
      seen_added_after = true;
      // Any RFC 3339 year: one before 1970 asks for everything (every date added is later).
      q.added_after_us = stix::ParseTimestampAnyYearUs(value);
      if (!q.added_after_us) {
        return InvalidArgument(where + ": \"" + Printable(value) +
                               "\" is not a timestamp YYYY-MM-DDTHH:MM:SS[.s]Z");
      }
    } else if (name == "limit") {
      if (q.limit) return InvalidArgument(where + ": given twice");
      bool digits = std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || value.find_first_not_of('0') == std::string::npos) {
        return InvalidArgument(where + ": \"" + Printable(value) + "\" is not a positive integer");
      }
      // Any larger number means "as many as the server gives"; keep it in range.
      std::string_view digits_only = std::string_view(value).substr(value.find_first_not_of('0'));
      std::optional<uint64_t> n = digits_only.size() <= 18 ? ParseDecimal(digits_only) : std::nullopt;
      q.limit = n ? *n : uint64_t{999999999999999999};
    } else if (name == "next") {
      if (q.next) return InvalidArgument(where + ": given twice");
      q.next = ParseCursor(value);
      if (!q.next)
        return InvalidArgument(where + ": \"" + Printable(value) + "\" is not a next token of this server");
    } else if (name.size() > 7 && name.starts_with("match[") && name.back() == ']') {
      std::string field = name.substr(6, name.size() - 7);
      for (std::string_view v : Split(value, ',')) {
        if (++match_values > limits::kMaxMatchValues) {
          return ResourceExhausted("query: more than " + std::to_string(limits::kMaxMatchValues) +
                                   " match values");
        }
        std::string bad = where + ": \"" + Printable(v) + "\" is not ";
        if (field == "id") {
          if (!IsStixId(v)) return InvalidArgument(bad + "a STIX id (type--uuid)");
          q.ids.emplace_back(v);
        } else if (field == "type") {
          if (!IsStixType(v)) return InvalidArgument(bad + "a STIX type");
          q.types.emplace_back(v);
        } else if (field == "spec_version") {
          if (!IsSpecVersion(v)) return InvalidArgument(bad + "a spec version like 2.1");
          q.spec_versions.emplace_back(v);
        } else if (field == "version") {
          if (v == "first") {
            q.version_first = true;
          } else if (v == "last") {
            q.version_last = true;
          } else if (v == "all") {
            q.version_all = true;
          } else if (std::optional<int64_t> ms = stix::ParseTimestamp(v)) {
            q.version_at_ms.push_back(*ms);
          } else {
            return InvalidArgument(bad + "first, last, all or a timestamp");
          }
        } else {
          return InvalidArgument(where +
                                 ": unknown filter; this server has match[id], match[type], "
                                 "match[version] and match[spec_version]");
        }
      }
    } else {
      return InvalidArgument(where + ": unknown parameter");
    }
  }
  return q;
}

std::string FormatObjectsQuery(const ObjectsQuery& q) {
  std::vector<std::string> parts;
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
  };
  if (q.added_after_us) parts.push_back("added_after=" + stix::FormatTimestampUs(*q.added_after_us));
  if (q.limit) parts.push_back("limit=" + std::to_string(*q.limit));
  if (q.next) parts.push_back("next=" + FormatCursor(*q.next));
  if (!q.ids.empty()) parts.push_back("match[id]=" + join(q.ids));
  if (!q.types.empty()) parts.push_back("match[type]=" + join(q.types));
  std::vector<std::string> versions;
  if (q.version_first) versions.push_back("first");
  if (q.version_last) versions.push_back("last");
  if (q.version_all) versions.push_back("all");
  for (int64_t ms : q.version_at_ms) versions.push_back(stix::FormatTimestamp(ms));
  if (!versions.empty()) parts.push_back("match[version]=" + join(versions));
  if (!q.spec_versions.empty()) parts.push_back("match[spec_version]=" + join(q.spec_versions));
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "&") + p;
  return out;
}

std::string AllCollectionId() {
  return stix::Uuid5(stix::kNamespace, "collection:all");
}

std::string ParticipantCollectionId(const crypto::Ed25519PublicKey& key) {
  return stix::Uuid5(stix::kNamespace, "collection:participant:" + KeyBase64(key));
}

namespace {

// One object as served: its serialization split around the accord extension's "checkpoint"
// member, which depends on the checkpoint the node has when it serves.
struct Served {
  std::string id, type, version;
  std::string head, tail;  // the JSON is head + [checkpoint member] + tail
  bool splice = false;     // has the extension (the fixed objects do not)
};
using Rendered = std::shared_ptr<const std::vector<Served>>;

// Stands in for the checkpoint when rendering: a string no statement can put at that place (the
// control characters are escaped, and only the extension has a "checkpoint" member).
constexpr std::string_view kCheckpointSentinel =
    "\x01"
    "accord-checkpoint"
    "\x01";

Served Serve(const Json& o) {
  Served s;
  s.id = o.value("id", "");
  s.type = o.value("type", "");
  s.version = stix::ObjectVersion(o);
  std::string text = Dump(o);
  std::string member = "\"checkpoint\":" + Dump(Json(kCheckpointSentinel)) + ",";
  size_t at = text.find(member);
  if (at == std::string::npos) {
    s.head = std::move(text);
    return s;
  }
  s.splice = true;
  s.head = text.substr(0, at);
  s.tail = text.substr(at + member.size());
  return s;
}

struct Collection {
  std::string id, title, description, alias;
  std::optional<crypto::Ed25519PublicKey> author;  // nullopt: every statement
  uint64_t first_index = 0;                        // its first statement; the fixed objects come with it
};

struct Item {
  const Served* object;
  uint64_t index;  // of the statement it comes from
  int64_t added_us;
};

struct Page {
  std::vector<Rendered> keep;  // owns what items point to
  std::vector<Item> items;
  bool more = false;
  std::optional<Cursor> next;
};

enum class Form { kObjects, kObject, kManifest, kVersions };

}  // namespace

struct TaxiiApi::Impl {
  Impl(Store& store, TaxiiConfig c) : store(store), config(Sane(std::move(c))) {
    std::vector<Served> fixed_objects;
    for (const Json& o : stix::FixedObjects()) fixed_objects.push_back(Serve(o));
    fixed = std::make_shared<const std::vector<Served>>(std::move(fixed_objects));
  }

  // A budget or page size of 0 would answer "more" without moving on.
  static TaxiiConfig Sane(TaxiiConfig c) {
    c.scan_budget = std::max<size_t>(c.scan_budget, 1);
    c.max_page_size = std::max<size_t>(c.max_page_size, 1);
    return c;
  }
  Status CatchUp();
  Result<Rendered> Render(const Record& r);
  Result<std::optional<Collection>> FindCollection(std::string_view id);
  Result<Page> Collect(const Collection& c, const ObjectsQuery& q, uint64_t size);
  TaxiiResponse Objects(const Collection& c, const ObjectsQuery& q, Form form);
  TaxiiResponse Route(const TaxiiRequest& request);
  TaxiiResponse Post(const Collection& c, const TaxiiRequest& req, const crypto::Ed25519PublicKey& poster);

  Store& store;
  const TaxiiConfig config;
  Rendered fixed;

  // STIX id -> the log indices that give it a version, in log order; participant collection id ->
  // key. Covers log indices [0, size).
  std::shared_mutex mu;
  uint64_t size = 0;
  std::unordered_map<std::string, std::vector<uint64_t>> versions;
  std::unordered_map<std::string, crypto::Ed25519PublicKey> collections;

  // Log index -> its rendered objects, at most config.render_cache_bytes of them; the least
  // recently served go first (pollers read the newest statements again and again).
  struct Cached {
    Rendered objects;
    size_t bytes = 0;
    std::list<uint64_t>::iterator age;  // in `lru`
  };
  std::mutex cache_mu;
  std::unordered_map<uint64_t, Cached> cache;
  std::list<uint64_t> lru;  // least recently served first
  size_t cache_bytes = 0;
  uint64_t cache_hits = 0, cache_misses = 0;

  // Status resources of POSTs, newest last, at most limits::kMaxStatusKept; each with its poster.
  struct KeptStatus {
    std::string id;
    crypto::Ed25519PublicKey poster;
    std::string body;
  };
  std::mutex status_mu;
  std::deque<KeptStatus> statuses;
  size_t status_bytes = 0;
};

Result<Rendered> TaxiiApi::Impl::Render(const Record& r) {
  {
    std::lock_guard lock(cache_mu);
    if (auto it = cache.find(r.index); it != cache.end()) {
      ++cache_hits;
      lru.splice(lru.end(), lru, it->second.age);
      return it->second.objects;
    }
    ++cache_misses;
  }
  stix::Context ctx{config.log_origin, std::string(kCheckpointSentinel), UINT64_MAX};
  stix::RecordLookup lookup = [this](uint64_t i) { return store.Get(i); };
  ASSIGN_OR_RETURN(std::vector<Json> objects, stix::StixObjects(r, lookup, ctx));
  std::vector<Served> served;
  // What the entry costs besides its objects: the map's and the list's nodes, the shared_ptr's
  // control block and the vector (about 150 bytes; counted so small statements do not overrun
  // the budget).
  size_t bytes = 160;
  for (const Json& o : objects) {
    Served s = Serve(o);
    bytes += sizeof(Served) + s.id.size() + s.type.size() + s.version.size() + s.head.size() + s.tail.size();
    served.push_back(std::move(s));
  }
  Rendered out = std::make_shared<const std::vector<Served>>(std::move(served));
  std::lock_guard lock(cache_mu);
  if (bytes > config.render_cache_bytes || cache.count(r.index)) return out;  // too large, or raced
  while (cache_bytes + bytes > config.render_cache_bytes) {
    auto victim = cache.find(lru.front());
    cache_bytes -= victim->second.bytes;
    cache.erase(victim);
    lru.pop_front();
  }
  lru.push_back(r.index);
  cache.emplace(r.index, Cached{out, bytes, std::prev(lru.end())});
  cache_bytes += bytes;
  return out;
}

Status TaxiiApi::Impl::CatchUp() {
  ASSIGN_OR_RETURN(uint64_t want, store.Size());
  for (;;) {
    uint64_t from;
    {
      std::shared_lock lock(mu);
      if (size >= want) return Status::Ok();
      from = size;
    }
    // Read and render without the lock, so requests go on meanwhile (rendering thousands of new
    // statements takes a while); add them under it unless another request added them first.
    ListQuery lq;
    lq.from_index = from;
    lq.limit = static_cast<decltype(lq.limit)>(std::min<uint64_t>(1000, want - from));
    ASSIGN_OR_RETURN(std::vector<Record> records, store.List(lq));
    if (records.empty()) return DataLoss("index: no record at " + std::to_string(from));
    std::vector<Rendered> rendered;
    for (size_t i = 0; i < records.size(); ++i) {
      if (records[i].index != from + i)
        return DataLoss("index: record " + std::to_string(records[i].index) + " where " +
                        std::to_string(from + i) + " was expected");
      ASSIGN_OR_RETURN(Rendered objects, Render(records[i]));
      rendered.push_back(std::move(objects));
    }
    std::unique_lock lock(mu);
    if (size != from) continue;  // another request added them meanwhile
    for (size_t i = 0; i < records.size(); ++i) {
      const Record& r = records[i];
      for (const Served& o : *rendered[i]) versions[o.id].push_back(r.index);
      if (r.kind == statement::Kind::kRegistration) collections[ParticipantCollectionId(r.author)] = r.author;
    }
    size = from + records.size();
  }
}

Result<std::optional<Collection>> TaxiiApi::Impl::FindCollection(std::string_view id) {
  if (id == AllCollectionId() || id == kAllCollectionAlias) {
    return std::optional<Collection>(Collection{AllCollectionId(), config.title + ": all statements",
                                                "Every statement in the log, in log order.",
                                                std::string(kAllCollectionAlias), std::nullopt, 0});
  }
  std::optional<crypto::Ed25519PublicKey> key;
  {
    std::shared_lock lock(mu);
    auto it = collections.find(std::string(id));
    if (it != collections.end()) key = it->second;
  }
  if (!key) return std::optional<Collection>();
  ASSIGN_OR_RETURN(std::optional<Participant> p, store.GetParticipant(*key));
  if (!p) return std::optional<Collection>();
  std::string description = "Statements by " + p->name + " (" + p->country + "), Ed25519 key " +
                            KeyBase64(p->key) + (p->retracted ? "; the key is retracted." : ".");
  return std::optional<Collection>(
      Collection{std::string(id), p->name, std::move(description), "", p->key, p->index});
}

// Under a shared lock of mu; `size` is the number of statements the index covers.
Result<Page> TaxiiApi::Impl::Collect(const Collection& c, const ObjectsQuery& q, uint64_t size) {
  Page page;
  const size_t limit = static_cast<size_t>(
      std::clamp<uint64_t>(q.limit.value_or(config.default_page_size), 1, config.max_page_size));
  Cursor pos = q.next.value_or(Cursor{});
  if (pos.index < c.first_index) pos = Cursor{c.first_index, 0};
  const bool any_version = q.version_first || q.version_last || q.version_all || !q.version_at_ms.empty();

  auto wanted = [&](const Served& o, uint64_t index) {
    if (!q.ids.empty() && std::find(q.ids.begin(), q.ids.end(), o.id) == q.ids.end()) return false;
    if (!q.types.empty() && std::find(q.types.begin(), q.types.end(), o.type) == q.types.end()) return false;
    if (!q.spec_versions.empty() &&
        std::find(q.spec_versions.begin(), q.spec_versions.end(), "2.1") == q.spec_versions.end()) {
      return false;
    }
    bool first = true, last = true;
    if (auto it = versions.find(o.id); it != versions.end() && !IsFixedObject(o.id)) {
      first = it->second.front() == index;
      last = it->second.back() == index;
    }
    if (!any_version) return last;
    if (q.version_all || (q.version_first && first) || (q.version_last && last)) return true;
    std::optional<int64_t> v = stix::ParseTimestamp(o.version);
    return v && std::find(q.version_at_ms.begin(), q.version_at_ms.end(), *v) != q.version_at_ms.end();
  };
  // Adds what `r` gives from the position on; true once the page is full and the next position known.
  auto visit = [&](const Record& r) -> Result<bool> {
    ASSIGN_OR_RETURN(Rendered rendered, Render(r));
    page.keep.push_back(std::move(rendered));
    const std::vector<Served>* own = page.keep.back().get();
    const bool with_fixed = r.index == c.first_index;
    const uint64_t count = (with_fixed ? fixed->size() : 0) + own->size();
    for (uint64_t k = r.index == pos.index ? pos.skip : 0; k < count; ++k) {
      const bool is_fixed = with_fixed && k < fixed->size();
      const Served& o = is_fixed ? (*fixed)[k] : (*own)[k - (with_fixed ? fixed->size() : 0)];
      if (!wanted(o, r.index)) continue;
      if (page.items.size() == limit) {
        page.more = true;
        page.next = Cursor{r.index, k};
        return true;
      }
      page.items.push_back(Item{&o, r.index, r.added_us});
    }
    return false;
  };
  auto in_collection = [&](const Record& r) {
    return (!c.author || r.author == *c.author) && (!q.added_after_us || r.added_us > *q.added_after_us);
  };

  size_t scanned = 0;
  if (!q.ids.empty()) {
    std::vector<uint64_t> candidates;
    for (const std::string& id : q.ids) {
      if (IsFixedObject(id)) {
        candidates.push_back(c.first_index);
      } else if (auto it = versions.find(id); it != versions.end()) {
        candidates.insert(candidates.end(), it->second.begin(), it->second.end());
      }
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    for (uint64_t i : candidates) {
      if (i < pos.index || i >= size) continue;
      if (scanned++ == config.scan_budget) {
        page.more = true;
        page.next = Cursor{i, 0};
        break;
      }
      ASSIGN_OR_RETURN(std::optional<Record> r, store.Get(i));
      if (!r) return DataLoss("index: no record at " + std::to_string(i));
      if (!in_collection(*r)) continue;
      ASSIGN_OR_RETURN(bool full, visit(*r));
      if (full) break;
    }
    return page;
  }
  uint64_t from = pos.index;
  while (from < size) {
    ListQuery lq;
    lq.author = c.author;
    lq.from_index = from;
    if (q.added_after_us) lq.added_after_us = *q.added_after_us;
    lq.limit = std::max<size_t>(1, std::min(config.scan_budget - scanned, limit + 1));
    ASSIGN_OR_RETURN(std::vector<Record> records, store.List(lq));
    for (const Record& r : records) {
      if (r.index >= size) return page;
      if (scanned++ == config.scan_budget) {
        page.more = true;
        page.next = Cursor{r.index, 0};
        return page;
      }
      ASSIGN_OR_RETURN(bool full, visit(r));
      if (full) return page;
    }
    if (records.size() < lq.limit) break;
    from = records.back().index + 1;
  }
  return page;
}

TaxiiResponse TaxiiApi::Impl::Objects(const Collection& c, const ObjectsQuery& q, Form form) {
  std::shared_lock lock(mu);
  Result<Page> page = Collect(c, q, size);
  if (!page.ok()) return FromStatus(page.status());
  if ((form == Form::kObject || form == Form::kVersions) && page->items.empty()) {
    // Unknown here, or known but filtered out?
    const std::string& id = q.ids.front();
    bool known = false;
    if (IsFixedObject(id)) {
      known = c.first_index < size;
    } else if (auto it = versions.find(id); it != versions.end()) {
      Result<std::optional<Record>> r = store.Get(it->second.front());
      if (!r.ok()) return FromStatus(r.status());
      known = r->has_value() && (!c.author || (*r)->author == *c.author);
    }
    if (!known) return Error(404, "Not found", "no object " + id + " in collection " + c.id);
  }
  // Written out directly: the objects are already JSON. Members in JCS order, as Dump writes them.
  std::string body = std::string("{\"more\":") + (page->more ? "true" : "false");
  if (page->next) body += ",\"next\":\"" + FormatCursor(*page->next) + "\"";
  body += form == Form::kVersions ? ",\"versions\":[" : ",\"objects\":[";
  if (form == Form::kObjects || form == Form::kObject) {
    std::string checkpoint;
    uint64_t covered = 0;
    if (config.checkpoint) {
      stix::Context ctx = stix::MakeContext("", config.checkpoint());
      if (ctx.checkpoint_size > 0) checkpoint = "\"checkpoint\":" + Dump(Json(ctx.checkpoint)) + ",";
      covered = ctx.checkpoint_size;
    }
    for (size_t i = 0; i < page->items.size(); ++i) {
      const Item& it = page->items[i];
      if (i) body += ',';
      body += it.object->head;
      if (it.object->splice && it.index < covered) body += checkpoint;
      body += it.object->tail;
    }
  } else {
    Json list = Json::array();
    for (const Item& it : page->items) {
      if (form == Form::kVersions) {
        list.push_back(it.object->version);
      } else {
        list.push_back({{"date_added", stix::FormatTimestampUs(it.added_us)},
                        {"id", it.object->id},
                        {"media_type", stix::kMediaType},
                        {"version", it.object->version}});
      }
    }
    std::string items = Dump(list);
    body += items.substr(1, items.size() - 2);
  }
  body += "]}";
  TaxiiResponse r;
  r.content_type = std::string(kMediaType);
  r.body = std::move(body);
  if (!page->items.empty()) {
    r.headers.emplace_back("X-TAXII-Date-Added-First", stix::FormatTimestampUs(page->items.front().added_us));
    r.headers.emplace_back("X-TAXII-Date-Added-Last", stix::FormatTimestampUs(page->items.back().added_us));
  }
  return r;
}

TaxiiApi::TaxiiApi(Store& store, TaxiiConfig config)
    : impl_(std::make_unique<Impl>(store, std::move(config))) {}

TaxiiApi::~TaxiiApi() = default;

Status TaxiiApi::CatchUp() const {
  return impl_->CatchUp();
}

RenderCacheStats TaxiiApi::render_cache() const {
  std::lock_guard lock(impl_->cache_mu);
  return RenderCacheStats{impl_->cache_hits, impl_->cache_misses, impl_->cache.size(), impl_->cache_bytes};
}

TaxiiResponse TaxiiApi::Handle(const TaxiiRequest& request) const {
  return impl_->Route(request);
}

TaxiiResponse TaxiiApi::Impl::Post(const Collection& c, const TaxiiRequest& req,
                                   const crypto::Ed25519PublicKey& poster) {
  if (!c.author || *c.author != poster)
    return Error(403, "Forbidden",
                 "the token is " + KeyBase64(poster) +
                     "'s: it adds only to that participant's own collection, " +
                     ParticipantCollectionId(poster));
  if (!IsTaxiiContentType(req.content_type))
    return Error(415, "Unsupported media type",
                 "a TAXII POST is " + std::string(kMediaType) + "; Content-Type was \"" +
                     Printable(req.content_type) + "\"");
  if (req.body.size() > limits::kMaxPostBytes)
    return Error(
        413, "Request too large",
        "the envelope is over max_content_length, " + std::to_string(limits::kMaxPostBytes) + " bytes");
  Json envelope = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (envelope.is_discarded()) return Error(400, "Bad request", "the body is not JSON");
  if (!envelope.is_object() || !envelope.contains("objects") || !envelope["objects"].is_array())
    return Error(400, "Bad request", "the body is not a TAXII envelope: an object with an \"objects\" list");
  const Json& objects = envelope["objects"];
  if (objects.size() > limits::kMaxPostObjects)
    return Error(413, "Request too large",
                 std::to_string(objects.size()) + " objects; at most " +
                     std::to_string(limits::kMaxPostObjects) + " in one envelope");
  // A status names each object by its id (TAXII's status-details require one): an envelope with
  // anything else in its list is refused whole, before anything is logged.
  for (size_t i = 0; i < objects.size(); ++i) {
    const Json& o = objects[i];
    if (!o.is_object() || !o.contains("id") || !o["id"].is_string() ||
        o["id"].get_ref<const std::string&>().empty())
      return Error(
          400, "Bad request",
          "objects[" + std::to_string(i) + "] is not a STIX object with an \"id\"; nothing was logged");
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  struct Detail {
    std::string id, version, message;
  };
  std::vector<Detail> successes, failures;
  std::vector<statement::Statement> statements;
  std::vector<Detail> pending;  // one per statement, in order
  for (const Json& o : objects) {
    Detail d;
    d.id = o["id"].get<std::string>();
    // The object's modified, else created, else (as TAXII dates an object with neither, and for a
    // version that is no timestamp) now.
    d.version = stix::ObjectVersion(o);
    if (!stix::ParseTimestamp(d.version)) d.version = stix::FormatTimestamp(now_ms);
    Result<stix::PostedBody> b = stix::BodyFromObject(o);
    if (!b.ok()) {
      d.message = "not logged: " + std::string(b.status().message());
      failures.push_back(std::move(d));
      continue;
    }
    statement::Statement st;
    st.kind = b->kind;
    st.author = poster;
    // The object's own time ("modified", whole seconds, never later than now): posting the same
    // object again gives the same statement, which the log answers as a duplicate.
    st.created = statement::FormatCreated(
        std::min(*stix::ParseTimestamp(o["modified"].get<std::string>()), now_ms) / 1000);
    st.body = std::move(b->body);
    statements.push_back(std::move(st));
    d.message = std::move(b->note);
    pending.push_back(std::move(d));
  }
  std::vector<Result<Logged>> logged;
  if (!statements.empty()) logged = config.submit(statements);
  for (size_t i = 0; i < pending.size(); ++i) {
    Detail& d = pending[i];
    const Result<Logged>* r = i < logged.size() ? &logged[i] : nullptr;
    if (r && r->ok()) {
      const Logged& l = **r;
      std::string what = (l.duplicate ? "already logged at index " : "logged at index ") +
                         std::to_string(l.index) + " as statement " + l.statement_id +
                         ", node-attested for " + KeyBase64(poster);
      d.message = d.message.empty() ? what : what + " (" + d.message + ")";
      successes.push_back(std::move(d));
    } else {
      if (r && r->status().code() == Code::kUnavailable) {
        // The node did not answer in time (PostgreSQL mode) or is failing: it may be logged yet.
        d.message = "not confirmed: " + std::string(r->status().message()) +
                    "; posting the same object again is safe (it gives the same statement)";
      } else {
        d.message = "not logged: " + (r ? std::string(r->status().message()) : std::string("no answer"));
      }
      failures.push_back(std::move(d));
    }
  }
  auto details = [](const std::vector<Detail>& v) {
    Json out = Json::array();
    for (const Detail& d : v) {
      Json j = {{"id", d.id}, {"version", d.version}};
      if (!d.message.empty()) j["message"] = d.message;
      out.push_back(std::move(j));
    }
    return out;
  };
  Json status = {{"id", Uuid4()},
                 {"status", "complete"},
                 {"request_timestamp", stix::FormatTimestamp(now_ms)},
                 {"total_count", objects.size()},
                 {"success_count", successes.size()},
                 {"failure_count", failures.size()},
                 {"pending_count", 0}};
  if (!successes.empty()) status["successes"] = details(successes);
  if (!failures.empty()) status["failures"] = details(failures);
  TaxiiResponse r = Ok(status);
  r.status = 202;
  // Kept in the index (every process of the log reads it, a restart keeps it), or in memory if
  // the index keeps none. A failure to keep it loses only the chance to read it again: the objects
  // are logged and this answer says so.
  const std::string id = status["id"].get<std::string>();
  Status kept = store.KeepStatus(
      id, poster, r.body, {limits::kMaxStatusKept, limits::kMaxStatusPerPoster, limits::kMaxStatusBytes});
  if (!kept.ok() && kept.code() != Code::kUnimplemented)
    std::fprintf(stderr, "accord: TAXII status %s not kept (it cannot be read again): %s\n", id.c_str(),
                 kept.ToString().c_str());
  if (kept.code() == Code::kUnimplemented) {
    std::lock_guard lock(status_mu);
    // One poster's statuses at most kMaxStatusPerPoster: its own oldest go first.
    size_t own = 0;
    for (const KeptStatus& k : statuses) own += k.poster == poster ? 1 : 0;
    if (own >= limits::kMaxStatusPerPoster) {
      auto oldest = std::find_if(statuses.begin(), statuses.end(),
                                 [&](const KeptStatus& k) { return k.poster == poster; });
      status_bytes -= oldest->body.size();
      statuses.erase(oldest);
    }
    statuses.push_back({id, poster, r.body});
    status_bytes += r.body.size();
    while (statuses.size() > limits::kMaxStatusKept || status_bytes > limits::kMaxStatusBytes) {
      status_bytes -= statuses.front().body.size();
      statuses.pop_front();
    }
  }
  return r;
}

TaxiiResponse TaxiiApi::Impl::Route(const TaxiiRequest& req) {
  // Segments after "/taxii2": [] discovery, [api] root, [api, status, id], [api, collections],
  // [api, collections, cid], [.., objects], [.., manifest], [.., objects, oid], [.., oid, versions].
  std::string_view path = req.path;
  if (path.ends_with('/')) path.remove_suffix(1);
  if (path != "/taxii2" && !path.starts_with("/taxii2/")) {
    return Error(404, "Not found", "no TAXII resource at " + Printable(req.path));
  }
  std::vector<std::string_view> seg;
  if (path != "/taxii2") seg = Split(path.substr(std::string_view("/taxii2/").size()), '/');
  enum {
    kDiscovery,
    kRoot,
    kStatus,
    kCollections,
    kCollection,
    kObjects,
    kManifest,
    kObject,
    kVersions,
    kNone
  } what = kNone;
  const size_t n = seg.size();
  if (std::any_of(seg.begin(), seg.end(), [](std::string_view s) { return s.empty(); })) {
    what = kNone;
  } else if (n == 0) {
    what = kDiscovery;
  } else if (seg[0] != "api") {
    what = kNone;
  } else if (n == 1) {
    what = kRoot;
  } else if (n == 3 && seg[1] == "status") {
    what = kStatus;
  } else if (seg[1] == "collections") {
    if (n == 2) what = kCollections;
    if (n == 3) what = kCollection;
    if (n == 4 && seg[3] == "objects") what = kObjects;
    if (n == 4 && seg[3] == "manifest") what = kManifest;
    if (n == 5 && seg[3] == "objects") what = kObject;
    if (n == 6 && seg[3] == "objects" && seg[5] == "versions") what = kVersions;
  }
  if (what == kNone) return Error(404, "Not found", "no TAXII resource at " + Printable(req.path));
  const bool post = req.method == "POST" && what == kObjects;
  if (req.method != "GET" && !post) {
    TaxiiResponse r = Error(405, "Method not allowed",
                            what == kObjects && config.submit ? "this resource answers GET and POST"
                                                              : "this resource answers GET only");
    r.headers.emplace_back("Allow", what == kObjects && config.submit ? "GET, POST" : "GET");
    return r;
  }
  if (post && !config.submit) {
    TaxiiResponse r =
        Error(405, "Method not allowed", "this node takes no TAXII POST; its collections are read-only");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (!Acceptable(req.accept)) {
    return Error(406, "Not acceptable",
                 "this server answers with " + std::string(kMediaType) + "; Accept was \"" +
                     Printable(req.accept) + "\"");
  }
  // Who is asking: needed to add objects and to read a status; elsewhere it only sets can_write.
  std::optional<crypto::Ed25519PublicKey> who;
  const bool needs_who = post || what == kStatus || what == kCollections || what == kCollection;
  if (config.authenticate && !req.authorization.empty() && needs_who) {
    Result<std::optional<crypto::Ed25519PublicKey>> w = config.authenticate(req.authorization);
    if (!w.ok() && (post || what == kStatus)) {
      TaxiiResponse r =
          Error(503, "Unavailable", "the token cannot be checked now: " + std::string(w.status().message()));
      r.headers.emplace_back("Retry-After", "5");
      return r;
    }
    if (w.ok()) who = *w;
  }
  if (post || what == kStatus) {
    if (!config.authenticate || !config.submit)
      return Error(404, "Not found", "this node takes no TAXII POST, so it has no status resources");
    if (req.authorization.empty())
      return Unauthorized(
          "adding objects and reading their status needs a participant's token "
          "(Authorization: Bearer <token>)");
    if (!who) return Unauthorized("the token is not one this node issued, or it was revoked");
  }
  const std::string root_url = config.public_url + std::string(kApiRootPath);
  switch (what) {
    case kDiscovery: {
      Json body = {{"title", config.title}, {"default", root_url}, {"api_roots", {root_url}}};
      if (!config.description.empty()) body["description"] = config.description;
      if (!config.contact.empty()) body["contact"] = config.contact;
      return Ok(body);
    }
    case kRoot: {
      Json body = {
          {"title", config.title}, {"versions", {kMediaType}}, {"max_content_length", limits::kMaxPostBytes}};
      if (!config.description.empty()) body["description"] = config.description;
      return Ok(body);
    }
    case kStatus: {
      // Status ids are UUIDs (Uuid4): anything else is no status, and is not sent to the index
      // (PostgreSQL refuses a parameter that is not UTF-8).
      std::optional<std::string> body;
      Result<std::optional<std::string>> found =
          IsUuid(seg[2]) ? store.FindStatus(seg[2], *who)
                         : Result<std::optional<std::string>>(std::optional<std::string>());
      if (found.ok()) {
        body = std::move(found).value();
      } else if (found.status().code() == Code::kUnimplemented) {
        std::lock_guard lock(status_mu);
        for (const KeptStatus& k : statuses)
          if (k.id == seg[2] && k.poster == *who) body = k.body;
      } else {
        return FromStatus(found.status());
      }
      if (body) {
        TaxiiResponse r;
        r.content_type = std::string(kMediaType);
        r.body = std::move(*body);
        return r;
      }
      return Error(404, "Not found",
                   "no status " + Printable(seg[2]) + " of this token's participant (the newest " +
                       std::to_string(limits::kMaxStatusKept) + " are kept)");
    }
    default:
      break;
  }
  if (Status s = CatchUp(); !s.ok()) return FromStatus(s);
  auto collection_json = [&](const Collection& c) {
    const bool can_write = config.submit && who && c.author && *c.author == *who;
    Json j = {{"id", c.id},       {"title", c.title},       {"description", c.description},
              {"can_read", true}, {"can_write", can_write}, {"media_types", {stix::kMediaType}}};
    if (!c.alias.empty()) j["alias"] = c.alias;
    return j;
  };
  if (what == kCollections) {
    Result<std::vector<Participant>> participants = store.Participants();
    if (!participants.ok()) return FromStatus(participants.status());
    std::sort(participants->begin(), participants->end(),
              [](const Participant& a, const Participant& b) { return a.index < b.index; });
    Json list = Json::array();
    list.push_back(collection_json(*FindCollection(AllCollectionId()).value()));
    for (const Participant& p : *participants) {
      Result<std::optional<Collection>> c = FindCollection(ParticipantCollectionId(p.key));
      if (!c.ok()) return FromStatus(c.status());
      if (c->has_value()) list.push_back(collection_json(**c));
    }
    return Ok(Json{{"collections", std::move(list)}});
  }
  Result<std::optional<Collection>> c = FindCollection(seg[2]);
  if (!c.ok()) return FromStatus(c.status());
  if (!c->has_value()) return Error(404, "Not found", "no collection " + Printable(seg[2]));
  if (what == kCollection) return Ok(collection_json(**c));
  if (post) return Post(**c, req, *who);

  Result<ObjectsQuery> q = ParseObjectsQuery(req.query);
  if (!q.ok()) return FromStatus(q.status());
  if (what == kObjects) return Objects(**c, *q, Form::kObjects);
  if (what == kManifest) return Objects(**c, *q, Form::kManifest);
  // One object: its id is in the path, so match[id] and match[type] do not apply.
  if (!q->ids.empty() || !q->types.empty()) {
    return Error(400, "Bad request",
                 "match[id] and match[type] are not filters of a single object's endpoints");
  }
  if (!IsStixId(seg[4])) return Error(404, "Not found", "\"" + Printable(seg[4]) + "\" is not a STIX id");
  q->ids.emplace_back(seg[4]);
  if (what == kObject) return Objects(**c, *q, Form::kObject);
  if (q->version_first || q->version_last || q->version_all || !q->version_at_ms.empty()) {
    return Error(400, "Bad request", "match[version] is not a filter of the versions endpoint");
  }
  q->version_all = true;
  return Objects(**c, *q, Form::kVersions);
}

}  // namespace accord::node::taxii
