// The node's TAXII 2.1 API as pure request handling: the HTTP server turns a
// request into a TaxiiRequest, calls TaxiiApi::Handle and writes the TaxiiResponse back. No
// sockets here. docs/taxii.md lists the endpoints, collections, paging and what is not done yet.
// SPEC: docs.oasis-open.org/cti/taxii/v2.1/os/taxii-v2.1-os.html
//
// Objects are the STIX form of logged statements (stix.h), read from the node's index (store.h).
// Paging follows the log: `next` names a position (log index, objects of that statement already
// returned), so paging never re-reads what it has passed.
//
// To answer by STIX id (object endpoints, match[id], match[version]) TaxiiApi keeps, in memory, the
// log indices that give each STIX id a version, caught up from the Store at each request (one
// Store::Size call when nothing is new). It also keeps the serialized objects of recently served
// statements (at most TaxiiConfig::render_cache_bytes, the least recently served dropped first),
// since a statement's objects never change but for the checkpoint that covers them, which is
// filled in when serving.
// Adding objects (POST .../collections/<participant's collection>/objects/, docs/taxii.md): a
// request authenticated by a token of that participant (TaxiiConfig::authenticate) has its
// indicators turned into statements (stix::BodyFromObject) that the node attests on the
// participant's behalf (TaxiiConfig::submit); they are logged plainly marked as node-attested.
// The answer is a TAXII status resource, complete when returned (the statements are durable);
// the newest of them (limits::kMaxStatusKept, kMaxStatusBytes) can be read again by their poster,
// kept in the Store (Store::KeepStatus: after a restart, through any process of the log), or in
// this TaxiiApi's memory if the Store keeps none.
// Thread-safety: TaxiiApi::Handle and CatchUp are safe to call from many threads at once; the
// free functions are pure.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "node/store.h"
#include "statement/statement.h"

namespace accord::node::taxii {

inline constexpr std::string_view kMediaType = "application/taxii+json;version=2.1";
inline constexpr std::string_view kDiscoveryPath = "/taxii2/";
inline constexpr std::string_view kApiRootPath = "/taxii2/api/";
inline constexpr std::string_view kAllCollectionAlias = "all";

namespace limits {
inline constexpr size_t kDefaultPageSize = 100;  // objects per page when the client gives no limit
inline constexpr size_t kMaxPageSize = 1000;     // a larger limit is lowered to this (TAXII allows it)
inline constexpr size_t kScanBudget = 2000;      // statements read per request before answering "more"
inline constexpr size_t kMaxQueryLength = 8192;  // bytes of the raw query string
inline constexpr size_t kMaxMatchValues = 100;   // values of all match[...] filters of one request
inline constexpr uint64_t kMaxCursorSkip = 1 << 20;
inline constexpr size_t kRenderCacheBytes = 64 << 20;  // serialized objects kept for serving again
inline constexpr size_t kMaxPostBytes = 1 << 20;     // a POST's envelope (the API root's max_content_length)
inline constexpr size_t kMaxPostObjects = 1000;      // objects in one POSTed envelope
inline constexpr size_t kMaxStatusKept = 4096;       // status resources kept (Store::KeepStatus),
inline constexpr size_t kMaxStatusPerPoster = 1024;  // of them, one participant's
inline constexpr size_t kMaxStatusBytes = 32 << 20;  // and at most this many bytes of them
}  // namespace limits

// A position in a collection: the log index of a statement and how many of its objects the client
// already has. Written "<index>.<skip>" in decimal; clients MUST treat it as opaque.
struct Cursor {
  uint64_t index = 0;
  uint64_t skip = 0;
  bool operator==(const Cursor&) const = default;
};
std::string FormatCursor(const Cursor& c);
std::optional<Cursor> ParseCursor(std::string_view text);

// The URL parameters of the objects, object, manifest and versions endpoints.
struct ObjectsQuery {
  std::optional<int64_t> added_after_us;  // added_after, Unix µs (finer digits are cut)
  std::optional<uint64_t> limit;          // >= 1, as asked; TaxiiApi lowers it to kMaxPageSize
  std::optional<Cursor> next;
  std::vector<std::string> ids;            // match[id]
  std::vector<std::string> types;          // match[type]
  std::vector<std::string> spec_versions;  // match[spec_version]
  // match[version]: none of these means "last", the TAXII default.
  bool version_first = false, version_last = false, version_all = false;
  std::vector<int64_t> version_at_ms;
  bool operator==(const ObjectsQuery&) const = default;
};

// Parses the raw query string (after '?', percent-encoded; '+' is a space). Repeated match[...]
// parameters and comma-separated values add up; added_after, limit and next may appear once.
// InvalidArgument, with the parameter named, for: an unknown parameter or match[...] field, a value
// that is empty or malformed (ids "type--uuid", types as STIX allows, timestamps
// YYYY-MM-DDTHH:MM:SS[.s+]Z, limit a positive integer, next as FormatCursor writes it), a bad
// percent escape, or more than the limits above (ResourceExhausted for length and count).
Result<ObjectsQuery> ParseObjectsQuery(std::string_view raw_query);
// The query string of `q`; ParseObjectsQuery gives `q` back.
std::string FormatObjectsQuery(const ObjectsQuery& q);

struct TaxiiRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoded path, e.g. "/taxii2/api/collections/"
  std::string query;   // raw, after '?', still percent-encoded
  std::string accept;  // the Accept header ("" when absent)
  std::string content_type;
  std::string body;
  std::string authorization;  // the Authorization header ("" when absent)
};

struct TaxiiResponse {
  int status = 200;
  std::string content_type;  // kMediaType, for errors too
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // X-TAXII-Date-Added-First/-Last, Allow
};

// A statement logged for a TAXII POST.
struct Logged {
  uint64_t index = 0;
  std::string statement_id;  // hex SHA-256 of the leaf
  bool duplicate = false;    // it was already logged at `index`
};

struct TaxiiConfig {
  std::string title = "accord";
  std::string description;
  std::string contact;
  // Scheme and authority the API roots are announced under ("https://node.example"); empty: the
  // discovery resource gives paths only.
  std::string public_url;
  std::string log_origin;
  // The node's newest signed checkpoint (note text), for the accord extension; may be empty or
  // unset. Called once per objects request, from the serving threads: it MUST be thread-safe.
  std::function<std::string()> checkpoint;
  size_t default_page_size = limits::kDefaultPageSize;
  size_t max_page_size = limits::kMaxPageSize;
  size_t scan_budget = limits::kScanBudget;
  size_t render_cache_bytes = limits::kRenderCacheBytes;

  // TAXII POST. Unset: the node takes none (405).
  // The participant a request's Authorization header speaks for (a token it issued to it), or
  // nullopt when the header names no valid token; an error when it cannot tell now (the token
  // store is unreachable: 503, never 401). Called only where it matters (POST, status,
  // collections' can_write). MUST be thread-safe.
  std::function<Result<std::optional<crypto::Ed25519PublicKey>>(std::string_view authorization)> authenticate;
  // Attests and logs the statements, in order, each accepted or refused on its own, once they are
  // durable (node::Node::Attest, SubmitMany). MUST be thread-safe.
  std::function<std::vector<Result<Logged>>(const std::vector<statement::Statement>&)> submit;
};

// The id of the collection of every statement, and of one participant's statements:
// uuid5(stix::kNamespace, "collection:all") and uuid5(..., "collection:participant:" + base64 key).
std::string AllCollectionId();
std::string ParticipantCollectionId(const crypto::Ed25519PublicKey& key);

// What the cache of rendered statements did (TaxiiConfig::render_cache_bytes): statements served
// from it and rendered anew, and what it holds now.
struct RenderCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  size_t statements = 0;
  size_t bytes = 0;
};

// A TAXII error message (section 3.6.1) for an HTTP status, e.g. one the HTTP server answers
// itself for a TAXII path (413 body too large, 503 busy): title by status, `description` as given.
TaxiiResponse ErrorResponse(int status, std::string_view description);

class TaxiiApi {
 public:
  // `store` MUST outlive the TaxiiApi.
  TaxiiApi(Store& store, TaxiiConfig config);
  ~TaxiiApi();
  TaxiiApi(const TaxiiApi&) = delete;
  TaxiiApi& operator=(const TaxiiApi&) = delete;

  // Every outcome is a response: TAXII error messages for 4xx and 5xx (500 when the Store fails).
  TaxiiResponse Handle(const TaxiiRequest& request) const;

  // Brings the in-memory STIX id index up to the Store's size. Handle calls it; the node MAY call
  // it after indexing new entries so that the first request after a restart does not pay for it.
  Status CatchUp() const;
  RenderCacheStats render_cache() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace accord::node::taxii
