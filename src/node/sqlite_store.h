// The embedded index of the node: one SQLite file beside the log (WAL mode).
//
// Schema (docs/node.md): statements(idx PK, id UNIQUE, added_us, kind, author, created, leaf,
// retracted), digests(digest, idx) for hash lookups, participants(key PK, ...), rules(author,
// name, idx). The index is derived from the log, so it is written with synchronous=NORMAL: a
// power cut may lose its last transactions, which Node::Open re-indexes from the entry bundles.
// taxii_status(seq, id UNIQUE, poster, body) keeps TAXII status resources (Store::KeepStatus),
// which are not in the log: a power cut may lose the newest, and a rebuilt index has none.
// Thread-safety: every method may be called from any thread. Reads use a pool of read-only
// connections (WAL readers never block the writer); Add uses the one writing connection.
#pragma once

#include <memory>
#include <string>

#include "node/store.h"

namespace accord::node {

class SqliteStore : public Store {
 public:
  // Opens (creating if absent) the index at `path`.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;

  Result<uint64_t> Size() override;
  Status Add(const std::vector<Record>& records) override;
  Result<std::optional<Record>> Get(uint64_t index) override;
  Result<std::optional<uint64_t>> FindId(std::string_view id_hex) override;
  Result<std::vector<Record>> List(const ListQuery& query) override;
  Result<std::vector<Record>> FindDigest(std::string_view digest_hex, size_t limit) override;
  Result<std::vector<Participant>> Participants() override;
  Result<std::optional<Participant>> GetParticipant(const crypto::Ed25519PublicKey& key) override;
  Status KeepStatus(std::string_view id, const crypto::Ed25519PublicKey& poster, std::string_view body,
                    const StatusLimits& limits) override;
  Result<std::optional<std::string>> FindStatus(std::string_view id,
                                                const crypto::Ed25519PublicKey& poster) override;

  struct Impl;

 private:
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace accord::node
