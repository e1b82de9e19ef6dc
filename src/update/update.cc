#include "update/update.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/bytes.h"
#include "core/fs.h"
#include "crypto/note.h"
#include "crypto/sha256.h"
#include "scan/database.h"
#include "scan/sigfile.h"
#include "scan/tlsh.h"
#include "scan/yara_rules.h"
#include "statement/statement.h"
#include "tlog/checkpoint.h"
#include "tlog/log.h"
#include "update/provenance.h"
#include "update/signatures.h"

namespace accord::update {

std::string MirrorDir(const std::string& db_dir) {
  return fs::JoinPath(db_dir, "log");
}
std::string ScanDatabasePath(const std::string& db_dir) {
  return fs::JoinPath(db_dir, "scan.accdb");
}

namespace {

std::string KeyBytes(const crypto::Ed25519PublicKey& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

struct Author {
  std::string name, country;
  uint64_t registration = 0;      // its registration's log index
  std::vector<uint32_t> sources;  // database sources of this author's statements
};

// Statements in log order: parsed beforehand (in parallel, Parse is pure), then validated and
// applied one by one; their signatures go into the builder at once, and a later retraction drops
// them again (DatabaseBuilder::DropSource), so nothing but the database is kept in memory.
class Builder {
 public:
  // `log_key`: the only key whose node attestations the log may hold; loaded if `trust_attested`.
  Builder(const tlog::VerifiedCheckpoint& cp, UpdateReport& report, const crypto::Ed25519PublicKey& log_key,
          bool trust_attested)
      : cp_(cp), report_(report), trust_attested_(trust_attested) {
    registry_.SetAttester(log_key);
    registry_.SetLogOrigin(cp.checkpoint.origin);
  }

  Status Add(uint64_t index, Result<statement::SignedStatement> parsed) {
    ++report_.statements;
    if (!parsed.ok()) return Reject(index, parsed.status());
    statement::SignedStatement& s = *parsed;
    // A statement is its bytes: the node answers an identical resubmission with the index it
    // already has, so a log holds each once. A later copy is refused, else a node could bring a
    // retracted statement back by logging its bytes again after the retraction.
    const crypto::Hash id = crypto::Sha256(s.canonical);
    uint64_t id_prefix[2];
    std::memcpy(id_prefix, id.data(), sizeof(id_prefix));
    auto [first, fresh] = first_index_.try_emplace(Id128{id_prefix[0], id_prefix[1]}, index);
    if (!fresh)
      return Reject(index, AlreadyExists("the same bytes as entry " + std::to_string(first->second) +
                                         ": a node logs a statement once"));
    if (Status v = statement::Validate(s, registry_); !v.ok()) return Reject(index, v);
    registry_.Apply(index, s);
    const auto& st = s.statement;
    if (s.attested_by && !trust_attested_) {
      ++report_.attested_skipped;  // valid and in the registry (its rule names count), not loaded
      return Status::Ok();
    }
    const std::string key = KeyBytes(st.author);
    switch (st.kind) {
      case statement::Kind::kRegistration:
        authors_[key].name = st.body.value("name", "");
        authors_[key].country = st.body.value("country", "");
        authors_[key].registration = index;
        registrations_[index] = key;
        return Status::Ok();
      case statement::Kind::kRetraction:
        return Retract(st.body.at("index").get<uint64_t>());
      case statement::Kind::kHashSet:
      case statement::Kind::kTlshSet:
      case statement::Kind::kYaraRule:
        return Load(index, s);
      default:
        return Status::Ok();
    }
  }

  Result<Bytes> Build(const std::string& policy_text) {
    std::vector<scan::YaraRules::RuleSource> rules;
    std::vector<uint64_t> rule_index;
    for (auto& [index, rule] : yara_) {
      if (dropped_.count(rule.source)) continue;
      rules.push_back({std::move(rule.cite), std::move(rule.text)});
      rule_index.push_back(index);
      report_.yara_rules += rule.names;
    }
    if (!rules.empty()) {
      Result<std::shared_ptr<const scan::YaraRules>> compiled = scan::YaraRules::CompileSources(rules);
      if (!compiled.ok()) {
        // Each compiled alone when its statement was checked; together they can still exceed a
        // limit of libyara's. Leave out the ones that do not compile alone now, and try again.
        std::vector<scan::YaraRules::RuleSource> good;
        for (size_t i = 0; i < rules.size(); ++i) {
          Result<std::shared_ptr<const scan::YaraRules>> one = scan::YaraRules::CompileSources({rules[i]});
          if (one.ok()) {
            good.push_back(std::move(rules[i]));
          } else {
            report_.rejected.push_back({rule_index[i], one.status().ToString()});
          }
        }
        compiled = scan::YaraRules::CompileSources(good);
        if (!compiled.ok()) return compiled.status().WithContext("the log's YARA rules together");
      }
      ASSIGN_OR_RETURN(Bytes blob, (*compiled)->Save());
      db_.SetYaraBlob(std::move(blob));
    }
    report_.loaded = source_of_.size() - dropped_.size();
    report_.retracted = dropped_.size() - failed_;
    db_.SetProvenance(FormatProvenance(Provenance{policy_text, cp_.raw, trust_attested_}));
    return db_.Build();
  }

 private:
  struct Rule {
    uint32_t source;
    std::string cite;  // the namespace its matches report
    std::string text;
    size_t names;
  };

  Status Reject(uint64_t index, const Status& why) {
    report_.rejected.push_back({index, why.ToString()});
    return Status::Ok();
  }

  Status Load(uint64_t index, const statement::SignedStatement& s) {
    const auto& st = s.statement;
    Author& a = authors_[KeyBytes(st.author)];
    // The citation a detection carries: which log entry, whose, under which checkpoint.
    std::string cite = Citation(cp_.checkpoint.origin, index, a.name, a.country, cp_.checkpoint.size);
    scan::Source src{uint32_t(scan::SourceKind::kLogEntry),
                     cite,
                     {cp_.checkpoint.origin, BigEndian64(index), KeyBytes(st.author), a.name,
                      BigEndian64(a.registration)}};
    // What the database refuses (a limit) leaves the statement out, never the whole update: the
    // log is append-only, and one bad statement must not stop every scanner's updates.
    Result<uint32_t> added_source = db_.AddSource(std::move(src));
    if (!added_source.ok()) return Reject(index, added_source.status());
    const uint32_t source = *added_source;
    source_of_[index] = source;
    a.sources.push_back(source);
    if (st.kind == statement::Kind::kYaraRule) {
      // A rule whose source is stored beside the log (source_ref) needs that content fetched and
      // checked against its hash; not done yet: left out and reported, never fatal.
      if (!st.body.contains("source")) {
        RETURN_IF_ERROR(Drop(source));
        ++failed_;
        return Reject(index,
                      Unimplemented("a YARA rule stored beside the log (source_ref) is not loaded yet"));
      }
      yara_[index] = Rule{source, cite, st.body.at("source").get<std::string>(), st.body.at("rules").size()};
      return Status::Ok();
    }
    // Parse checked every digest, name and threshold; what fails here is a database limit.
    Result<size_t> added = st.kind == statement::Kind::kHashSet ? AddHashSetSignatures(db_, source, st.body)
                                                                : AddTlshSetSignatures(db_, source, st.body);
    if (added.ok()) (st.kind == statement::Kind::kHashSet ? report_.hashes : report_.tlsh) += *added;
    if (!added.ok()) {
      RETURN_IF_ERROR(Drop(source));
      ++failed_;
      report_.rejected.push_back({index, added.status().ToString()});
    }
    return Status::Ok();
  }

  Status Drop(uint32_t source) {
    dropped_.insert(source);
    return db_.DropSource(source);
  }

  // A retraction that Validate accepted: of one of the author's own statements.
  Status Retract(uint64_t target) {
    if (auto it = source_of_.find(target); it != source_of_.end()) return Drop(it->second);
    // Retracting one's registration retracts the key: everything it signed is left out.
    if (auto r = registrations_.find(target); r != registrations_.end()) {
      for (uint32_t source : authors_[r->second].sources) RETURN_IF_ERROR(Drop(source));
    }
    return Status::Ok();
  }

  const tlog::VerifiedCheckpoint& cp_;
  UpdateReport& report_;
  const bool trust_attested_;
  statement::MemoryRegistry registry_;
  scan::DatabaseBuilder db_;
  std::unordered_map<std::string, Author> authors_;          // by key bytes
  std::unordered_map<uint64_t, std::string> registrations_;  // registration index -> key bytes
  std::unordered_map<uint64_t, uint32_t> source_of_;         // statement index -> its source
  std::map<uint64_t, Rule> yara_;                            // in log order
  std::unordered_set<uint32_t> dropped_;
  // Statement ids (SHA-256 of the entry; its first 128 bits) -> the first index that held it.
  struct Id128 {
    uint64_t a, b;
    bool operator==(const Id128&) const = default;
  };
  struct Id128Hash {
    size_t operator()(const Id128& k) const { return size_t(k.a); }  // already uniform
  };
  std::unordered_map<Id128, uint64_t, Id128Hash> first_index_;
  size_t failed_ = 0;  // statements dropped because a database limit refused them
};

// Parses `entries` with up to `threads` threads; results in order.
std::vector<Result<statement::SignedStatement>> ParseAll(const std::vector<ByteView>& entries,
                                                         unsigned threads) {
  std::vector<Result<statement::SignedStatement>> out(entries.size(),
                                                      Result<statement::SignedStatement>(Internal("")));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < entries.size();) out[i] = statement::Parse(entries[i]);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return out;
}

// The entries of a log directory in order, a batch at a time: entries up to about `batch_bytes`
// (at least one), never across two bundles.
struct Batch {
  uint64_t first = 0;  // index of entries[0]
  std::shared_ptr<const Bytes> bundle;
  std::vector<ByteView> entries;  // into *bundle; empty: no more
};
struct ParsedBatch {
  Batch batch;
  std::vector<Result<statement::SignedStatement>> parsed;
};

class EntryBatches {
 public:
  EntryBatches(const std::string& dir, uint64_t size, size_t batch_bytes)
      : reader_(dir), size_(size), batch_bytes_(batch_bytes) {}

  Result<Batch> Next() {
    Batch b;
    if (next_ >= size_) return b;
    if (next_ % 256 == 0) {
      tlog::TileCoord t{tlog::kEntriesLevel, next_ / 256, uint32_t(std::min<uint64_t>(256, size_ - next_))};
      ASSIGN_OR_RETURN(Bytes data, tlog::ReadTileOrFull(reader_, t));
      bundle_ = std::make_shared<const Bytes>(std::move(data));
      ASSIGN_OR_RETURN(entries_, tlog::ParseEntryBundle(*bundle_, t.width));
    }
    size_t at = next_ % 256, end = at, bytes = 0;
    while (end < entries_.size() && (end == at || bytes + entries_[end].size() <= batch_bytes_))
      bytes += entries_[end++].size();
    b.first = next_;
    b.bundle = bundle_;
    b.entries.assign(entries_.begin() + at, entries_.begin() + end);
    next_ += end - at;
    return b;
  }

 private:
  tlog::DirTileReader reader_;
  const uint64_t size_;
  const size_t batch_bytes_;
  uint64_t next_ = 0;
  std::shared_ptr<const Bytes> bundle_;
  std::vector<ByteView> entries_;
};

double SecondsSince(std::chrono::steady_clock::time_point& t) {
  auto now = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}

}  // namespace

Result<UpdateReport> Update(LogSource& from, const std::string& db_dir, const UpdateOptions& options) {
  UpdateReport report;
  auto t = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(fs::MakeDirs(db_dir));
  // One update of DB at a time, from the mirror's sync to the database's replacement.
  ASSIGN_OR_RETURN(fs::FileLock lock,
                   fs::FileLock::Acquire(fs::JoinPath(db_dir, "lock"), "database " + db_dir));
  ASSIGN_OR_RETURN(report.mirror, SyncMirror(from, MirrorDir(db_dir), options.mirror));
  report.mirror_seconds = SecondsSince(t);
  const std::string out = ScanDatabasePath(db_dir);
  if (report.mirror.old_size == report.mirror.checkpoint.checkpoint.size && fs::Exists(out)) {
    // Nothing new in the log: keep the database if it was built from this very tree under this
    // policy (its checkpoint may carry older cosignatures of the same tree: witnesses cosign an
    // idle log's checkpoint again, and that changes nothing in the database).
    Result<std::shared_ptr<const scan::Database>> db = scan::Database::Open(out);
    if (db.ok()) {
      Result<Provenance> p = ParseProvenance((*db)->provenance());
      Result<note::Note> n = p.ok() ? note::ParseNote(p->checkpoint) : Result<note::Note>(p.status());
      Result<tlog::Checkpoint> built =
          n.ok() ? tlog::ParseCheckpoint(n->text) : Result<tlog::Checkpoint>(n.status());
      if (built.ok() && *built == report.mirror.checkpoint.checkpoint && p->policy == options.policy_text &&
          p->trust_attested == options.trust_attested)
        return report;
    }
  }
  // Every statement of the mirrored log, in order: the registry needs them all. While one batch
  // is validated and added, the next is parsed on every core.
  Builder builder(report.mirror.checkpoint, report, options.mirror.log_key.public_key,
                  options.trust_attested);
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 16u);
  // Parsed statements are large in memory (a 64 KiB hash set is ~1 MB as a JSON document): about
  // 1 MiB of statements per batch (some 16 of the largest, a bundle of small ones).
  EntryBatches batches(MirrorDir(db_dir), report.mirror.checkpoint.checkpoint.size, size_t{1} << 20);
  auto parse = [threads](Batch b) {
    ParsedBatch p;
    p.parsed = ParseAll(b.entries, threads);
    p.batch = std::move(b);
    return p;
  };
  ASSIGN_OR_RETURN(Batch first, batches.Next());
  std::future<ParsedBatch> ahead = std::async(std::launch::async, parse, std::move(first));
  while (true) {
    ParsedBatch p = ahead.get();
    if (p.batch.entries.empty()) break;
    ASSIGN_OR_RETURN(Batch next, batches.Next());
    ahead = std::async(std::launch::async, parse, std::move(next));
    for (size_t i = 0; i < p.parsed.size(); ++i)
      RETURN_IF_ERROR(builder.Add(p.batch.first + i, std::move(p.parsed[i])));
  }
  report.statements_seconds = SecondsSince(t);
  ASSIGN_OR_RETURN(Bytes image, builder.Build(options.policy_text));
  report.build_seconds = SecondsSince(t);
  RETURN_IF_ERROR(fs::WriteFileAtomic(out, image));
  report.write_seconds = SecondsSince(t);
  report.rebuilt = true;
  return report;
}

}  // namespace accord::update
