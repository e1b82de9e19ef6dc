#include "update/log_source.h"

#include <httplib.h>

#include "core/fs.h"
#include "core/limits.h"
#include "http/client_deadline.h"

namespace accord::update {
namespace {

class DirSource : public LogSource {
 public:
  explicit DirSource(std::string dir) : dir_(std::move(dir)), tiles_(dir_) {}
  Result<Bytes> ReadCheckpoint() override {
    return fs::ReadFile(fs::JoinPath(dir_, "checkpoint"), limits::kMaxNoteSize);
  }
  Result<Bytes> ReadTile(const tlog::TileCoord& tile) override { return tiles_.ReadTile(tile); }
  const std::string& where() const override { return dir_; }

 private:
  std::string dir_;
  tlog::DirTileReader tiles_;
};

class HttpSource : public LogSource {
 public:
  HttpSource(const std::string& origin, std::string prefix, std::string where, const SourceOptions& o)
      : client_(origin),
        prefix_(std::move(prefix)),
        where_(std::move(where)),
        timeout_(std::chrono::seconds(o.timeout_seconds)) {
    if (!o.ca_cert.empty()) client_.set_ca_cert_path(o.ca_cert);
    client_.set_connection_timeout(o.timeout_seconds);
    client_.set_read_timeout(o.timeout_seconds);
    client_.set_keep_alive(true);
  }
  bool valid() const { return client_.is_valid(); }

  Result<Bytes> ReadCheckpoint() override { return Get("checkpoint", limits::kMaxNoteSize); }
  Result<Bytes> ReadTile(const tlog::TileCoord& tile) override {
    size_t cap = tile.level == tlog::kEntriesLevel ? limits::kMaxBundleSize : size_t{tile.width} * 32;
    return Get(tlog::TilePath(tile), cap);
  }
  const std::string& where() const override { return where_; }

 private:
  Result<Bytes> Get(const std::string& rel, size_t cap) {
    Bytes body;
    bool too_big = false, timed_out = false;
    // Each request whole within the timeout (a server trickling its answer is cut off at it).
    auto res = http::WithDeadline(
        client_, timeout_,
        [&] {
          return client_.Get(prefix_ + "/" + rel, httplib::Headers{}, [&](const char* data, size_t n) {
            if (body.size() + n > cap) {
              too_big = true;
              return false;
            }
            body.append(data, n);
            return true;
          });
        },
        &timed_out);
    if (too_big)
      return ResourceExhausted(where_ + "/" + rel + ": larger than " + std::to_string(cap) + " bytes");
    if (!res && timed_out)
      return Unavailable(where_ + "/" + rel + ": no whole answer within " +
                         std::to_string(timeout_.count() / 1000) + " s");
    if (!res) return Unavailable(where_ + "/" + rel + ": " + httplib::to_string(res.error()));
    if (res->status == 404) return NotFound(where_ + "/" + rel + ": 404");
    if (res->status != 200) return Unavailable(where_ + "/" + rel + ": HTTP " + std::to_string(res->status));
    return body;
  }

  httplib::Client client_;
  std::string prefix_;
  std::string where_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

Result<std::unique_ptr<LogSource>> OpenLogSource(const std::string& from, const SourceOptions& options) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (from.rfind(scheme, 0) != 0) continue;
    std::string rest = from.substr(scheme.size());
    size_t slash = rest.find('/');
    std::string host = rest.substr(0, slash);
    std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (host.empty() || prefix.find_first_of("?#") != std::string::npos)
      return InvalidArgument(from + ": not a usable log URL (scheme://host[:port][/path])");
    std::string where = std::string(scheme) + host + prefix;
    auto src = std::make_unique<HttpSource>(std::string(scheme) + host, prefix, where, options);
    if (!src->valid()) return InvalidArgument(from + ": not a usable log URL");
    return std::unique_ptr<LogSource>(std::move(src));
  }
  if (from.find("://") != std::string::npos)
    return InvalidArgument(from + ": only http:// and https:// are read");
  if (!fs::IsDir(from)) return NotFound(from + ": no such directory");
  return std::unique_ptr<LogSource>(std::make_unique<DirSource>(from));
}

}  // namespace accord::update
