#include "node/node.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/bytes.h"
#include "core/fs.h"
#include "core/limits.h"
#include "crypto/sha256.h"
#include "node/pg_store.h"
#include "node/sqlite_store.h"
#include "statement/statement.h"
#include "tlog/log.h"
#include "tlog/tile.h"

namespace accord::node {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string KeyString(const crypto::Ed25519PublicKey& k) {
  return std::string(k.begin(), k.end());
}

// Statements queued between Submit and the sequencer; at most this many wait (back-pressure:
// Submit blocks beyond it).
constexpr size_t kMaxWaiting = 65536;
// The most statements in one round of the log.
constexpr size_t kMaxRound = 8192;

// What validation needs of the log's state, kept in memory and updated as statements are
// sequenced (before they are durable: a round that fails stops the node, so the registry never
// runs ahead of a log that goes on). Used by the sequencer thread only.
class NodeRegistry : public statement::Registry {
 public:
  explicit NodeRegistry(Store& store) : store_(store) {}

  bool IsRegistered(const crypto::Ed25519PublicKey& key) const override {
    return participants_.count(KeyString(key)) != 0;
  }
  bool IsKeyRetracted(const crypto::Ed25519PublicKey& key) const override {
    auto it = participants_.find(KeyString(key));
    return it != participants_.end() && it->second.retracted;
  }
  bool HasRuleName(const crypto::Ed25519PublicKey& author, std::string_view rule) const override {
    return rules_.count(KeyString(author) + std::string(rule)) != 0;
  }
  std::optional<crypto::Ed25519PublicKey> AuthorOf(uint64_t index) const override {
    auto it = recent_.find(index);
    if (it != recent_.end()) return it->second.author;
    auto r = store_.Get(index);
    if (!r.ok() || !r->has_value()) return std::nullopt;
    return (*r)->author;
  }

  // Records a statement: `kind`, `author`, and for YARA rules their names, for retractions
  // the target.
  void Apply(uint64_t index, const statement::SignedStatement& s) {
    const auto& st = s.statement;
    std::string author = KeyString(st.author);
    Recent rec{st.author, st.kind, {}};
    switch (st.kind) {
      case statement::Kind::kRegistration:
        participants_[author] = Participant{index, false};
        break;
      case statement::Kind::kYaraRule:
        for (const auto& n : st.body["rules"]) {
          rec.rules.push_back(n.get<std::string>());
          rules_.insert(author + rec.rules.back());
        }
        yara_[index] = rec.rules;
        break;
      case statement::Kind::kRetraction: {
        uint64_t target = st.body["index"].get<uint64_t>();
        auto p = participants_.find(author);
        if (p != participants_.end() && p->second.index == target) p->second.retracted = true;
        auto y = yara_.find(target);
        if (y != yara_.end()) {
          for (const auto& n : y->second) rules_.erase(author + n);
          yara_.erase(y);
        }
        break;
      }
      default:
        break;
    }
    recent_[index] = std::move(rec);
  }

  // From the index, at open.
  void LoadParticipant(const node::Participant& p) {
    participants_[KeyString(p.key)] = Participant{p.index, p.retracted};
  }
  void LoadRules(uint64_t index, const crypto::Ed25519PublicKey& author, std::vector<std::string> names) {
    for (const auto& n : names) rules_.insert(KeyString(author) + n);
    yara_[index] = std::move(names);
  }
  // Forgets what the index now answers for.
  void Forget(uint64_t below) {
    for (auto it = recent_.begin(); it != recent_.end();)
      it = it->first < below ? recent_.erase(it) : std::next(it);
  }

 private:
  struct Participant {
    uint64_t index;
    bool retracted;
  };
  struct Recent {
    crypto::Ed25519PublicKey author;
    statement::Kind kind;
    std::vector<std::string> rules;
  };
  Store& store_;
  std::unordered_map<std::string, Participant> participants_;
  std::unordered_set<std::string> rules_;  // author key || rule name, of unretracted rules
  std::unordered_map<uint64_t, std::vector<std::string>> yara_;
  std::unordered_map<uint64_t, Recent> recent_;  // sequenced, maybe not yet indexed
};

}  // namespace

Result<Record> RecordFromLeaf(uint64_t index, ByteView leaf, int64_t added_ms) {
  auto doc = json::Json::parse(leaf, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("statement"))
    return DataLoss("entry " + std::to_string(index) + " is not a statement");
  const auto& st = doc["statement"];
  Record r;
  r.index = index;
  r.id = HexEncode(ByteView(reinterpret_cast<const char*>(crypto::Sha256(leaf).data()), 32));
  r.added_ms = added_ms;
  r.leaf = std::string(leaf);
  if (!st.contains("kind") || !st["kind"].is_string() || !st.contains("author") ||
      !st["author"].is_string() || !st.contains("created") || !st["created"].is_string())
    return DataLoss("entry " + std::to_string(index) + " is not a statement");
  auto kind = statement::KindFromName(st["kind"].get<std::string>());
  auto key = Base64Decode(st["author"].get<std::string>());
  if (!kind || !key || key->size() != 32)
    return DataLoss("entry " + std::to_string(index) + " is not a statement");
  r.kind = *kind;
  std::copy(key->begin(), key->end(), r.author.begin());
  r.created = st["created"].get<std::string>();
  return r;
}

struct Node::Impl {
  std::string dir, log_dir, origin;
  std::unique_ptr<Store> store;
  std::unique_ptr<tlog::LogWriter> log;
  std::unique_ptr<Cosigner> cosigner;  // declared after `log`: stopped before it
  std::unique_ptr<NodeRegistry> registry;
  NodeCounters counters;

  // A submission waiting for the sequencer, then for its round.
  struct Waiter {
    statement::SignedStatement s;
    std::string id;
    std::promise<Result<Accepted>> done;
    Accepted answer;
  };
  std::mutex mu;
  std::condition_variable queue_cv, space_cv;
  std::deque<std::unique_ptr<Waiter>> queue;
  bool stopping = false;

  struct Round {
    std::future<Result<uint64_t>> appended;
    std::vector<Record> records;
    std::vector<std::unique_ptr<Waiter>> waiters;  // accepted ones and duplicates of pending ones
    uint64_t end = 0;                              // log size once this round is in
  };
  std::mutex round_mu;
  std::condition_variable round_cv;
  std::deque<Round> rounds;
  bool sequencer_done = false;

  std::unordered_map<std::string, uint64_t> pending_ids;  // sequencer thread only
  uint64_t next_index = 0;                                // sequencer thread only
  std::atomic<uint64_t> indexed{0};
  std::mutex failed_mu;
  Status failed;

  std::thread sequencer, committer;

  Status Failed() {
    std::lock_guard lock(failed_mu);
    return failed;
  }
  void Fail(const Status& s) {
    std::lock_guard lock(failed_mu);
    if (failed.ok()) failed = Unavailable("the node stopped accepting statements: " + s.message());
  }

  Status CatchUp();
  Status LoadRegistry();
  void Sequence();
  void Commit();
};

Status Node::Impl::CatchUp() {
  ASSIGN_OR_RETURN(uint64_t have, store->Size());
  uint64_t size = log->checkpoint().checkpoint.size;
  if (have > size)
    return DataLoss("the index holds " + std::to_string(have) + " statements, the log only " +
                    std::to_string(size) + ": the index belongs to another log");
  tlog::DirTileReader reader(log_dir);
  std::vector<Record> batch;
  int64_t now = NowMs();
  for (uint64_t i = have; i < size; ++i) {
    ASSIGN_OR_RETURN(Bytes leaf, tlog::ReadEntry(reader, i, size));
    ASSIGN_OR_RETURN(Record r, RecordFromLeaf(i, leaf, now));
    batch.push_back(std::move(r));
    if (batch.size() == 4096 || i + 1 == size) {
      RETURN_IF_ERROR(store->Add(batch));
      batch.clear();
    }
  }
  indexed = size;
  next_index = size;
  return Status::Ok();
}

Status Node::Impl::LoadRegistry() {
  ASSIGN_OR_RETURN(auto participants, store->Participants());
  for (const auto& p : participants) registry->LoadParticipant(p);
  ListQuery q;
  q.kind = statement::Kind::kYaraRule;
  q.limit = 1000;
  for (;;) {
    ASSIGN_OR_RETURN(auto page, store->List(q));
    for (const auto& r : page) {
      if (r.retracted) continue;
      auto doc = json::Json::parse(r.leaf, nullptr, false);
      std::vector<std::string> names;
      if (!doc.is_discarded())
        for (const auto& n : doc["statement"]["body"]["rules"]) names.push_back(n.get<std::string>());
      registry->LoadRules(r.index, r.author, std::move(names));
    }
    if (page.size() < q.limit) break;
    q.from_index = page.back().index + 1;
  }
  return Status::Ok();
}

void Node::Impl::Sequence() {
  for (;;) {
    std::vector<std::unique_ptr<Waiter>> batch;
    {
      std::unique_lock lock(mu);
      queue_cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) break;  // stopping, and everything is answered
      while (!queue.empty() && batch.size() < kMaxRound) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    space_cv.notify_all();
    registry->Forget(indexed.load());
    for (auto it = pending_ids.begin(); it != pending_ids.end();)
      it = it->second < indexed.load() ? pending_ids.erase(it) : std::next(it);

    Round round;
    tlog::EntryBatch entries;
    uint64_t first = next_index;
    Status failed_now = Failed();
    for (auto& w : batch) {
      if (!failed_now.ok()) {
        w->done.set_value(failed_now);
        continue;
      }
      // An identical resubmission answers with the index it already has.
      auto p = pending_ids.find(w->id);
      std::optional<uint64_t> known;
      if (p != pending_ids.end()) {
        known = p->second;
      } else {
        auto found = store->FindId(w->id);
        if (!found.ok()) {
          w->done.set_value(found.status());
          continue;
        }
        known = *found;
      }
      if (known) {
        w->answer = Accepted{*known, w->id, true};
        if (*known < indexed.load()) {
          counters.duplicates++;
          w->done.set_value(w->answer);
        } else {
          round.waiters.push_back(std::move(w));  // answered when its first copy is durable
        }
        continue;
      }
      Status v = statement::Validate(w->s, *registry);
      if (!v.ok()) {
        counters.refused++;
        w->done.set_value(v);
        continue;
      }
      if (Status a = entries.Add(w->s.canonical); !a.ok()) {
        counters.refused++;
        w->done.set_value(a);
        continue;
      }
      uint64_t index = next_index++;
      registry->Apply(index, w->s);
      pending_ids.emplace(w->id, index);
      Record r;
      r.index = index;
      r.id = w->id;
      r.leaf = w->s.canonical;
      r.kind = w->s.statement.kind;
      r.author = w->s.statement.author;
      r.created = w->s.statement.created;
      round.records.push_back(std::move(r));
      w->answer = Accepted{index, w->id, false};
      round.waiters.push_back(std::move(w));
    }
    if (round.waiters.empty()) continue;
    if (entries.size() > 0) {
      round.appended = log->Submit(std::move(entries));
    } else {
      std::promise<Result<uint64_t>> none;
      none.set_value(first);
      round.appended = none.get_future();
    }
    round.end = next_index;
    {
      std::lock_guard lock(round_mu);
      rounds.push_back(std::move(round));
    }
    round_cv.notify_one();
  }
  {
    std::lock_guard lock(round_mu);
    sequencer_done = true;
  }
  round_cv.notify_one();
}

void Node::Impl::Commit() {
  for (;;) {
    // Every round queued so far is committed together, in one index transaction (group commit).
    // Callers are answered once their entries are durable and indexed; the signed checkpoint
    // that covers them follows within the log's round (a crash in between loses nothing: the
    // log integrates durable bundles beyond its checkpoint when it opens).
    std::vector<Round> group;
    {
      std::unique_lock lock(round_mu);
      round_cv.wait(lock, [&] { return sequencer_done || !rounds.empty(); });
      if (rounds.empty()) return;
      while (!rounds.empty()) {
        group.push_back(std::move(rounds.front()));
        rounds.pop_front();
      }
    }
    Status st = Failed();
    std::vector<Record> records;
    for (auto& round : group) {
      if (!st.ok()) break;
      Result<uint64_t> first = round.appended.get();
      if (!first.ok())
        st = first.status();
      else if (!round.records.empty() && *first != round.records.front().index)
        st = Internal("the log assigned index " + std::to_string(*first) + ", the node expected " +
                      std::to_string(round.records.front().index));
      for (auto& r : round.records) records.push_back(std::move(r));
    }
    if (st.ok()) {
      int64_t now = NowMs();
      for (auto& r : records) r.added_ms = now;
      st = store->Add(records);
    }
    if (!st.ok()) {
      Fail(st);
      st = Failed();
    } else {
      indexed = group.back().end;
      counters.rounds++;
    }
    for (auto& round : group) {
      // A round whose future was never read (an earlier one failed) is abandoned with the rest.
      for (auto& w : round.waiters) {
        if (!st.ok()) {
          w->done.set_value(st);
          continue;
        }
        if (w->answer.duplicate)
          counters.duplicates++;
        else
          counters.accepted++;
        w->done.set_value(w->answer);
      }
    }
  }
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->queue_cv.notify_all();
  impl_->space_cv.notify_all();
  if (impl_->sequencer.joinable()) impl_->sequencer.join();
  if (impl_->committer.joinable()) impl_->committer.join();
}

Result<std::unique_ptr<Node>> Node::Open(const std::string& dir_arg, const std::string& origin,
                                         const NodeOptions& options) {
  auto impl = std::make_unique<Impl>();
  ASSIGN_OR_RETURN(impl->dir, fs::Absolute(dir_arg));
  impl->log_dir = fs::JoinPath(impl->dir, "log");
  std::string key_path = fs::JoinPath(impl->dir, "node.key");
  if (!fs::Exists(fs::JoinPath(impl->log_dir, "checkpoint"))) {
    if (origin.empty())
      return InvalidArgument(impl->dir + ": no log here yet; --origin is needed to create one");
    RETURN_IF_ERROR(fs::MakeDirs(impl->dir, 0755));
    if (!fs::Exists(key_path)) {
      ASSIGN_OR_RETURN(note::Signer signer, note::GenerateSigner(origin));
      RETURN_IF_ERROR(fs::WriteFileAtomic(key_path, note::FormatSignerKey(signer) + "\n", 0600));
      RETURN_IF_ERROR(fs::WriteFileAtomic(fs::JoinPath(impl->dir, "node.vkey"),
                                          note::FormatVerifierKey(signer.verifier()) + "\n", 0644));
    }
    RETURN_IF_ERROR(tlog::InitLog(impl->log_dir, origin, key_path));
  }
  ASSIGN_OR_RETURN(tlog::LogConfig config, tlog::ReadLogConfig(impl->log_dir));
  if (!origin.empty() && origin != config.origin)
    return FailedPrecondition(impl->dir + ": the log's origin is \"" + config.origin + "\", not \"" + origin +
                              "\"");
  impl->origin = config.origin;
  ASSIGN_OR_RETURN(impl->log,
                   tlog::LogWriter::Open(impl->log_dir, tlog::LogOptions{!options.witnesses.empty()}));
  if (!options.witnesses.empty())
    impl->cosigner = std::make_unique<Cosigner>(*impl->log, options.witnesses, options.cosigner);
  if (options.postgres.empty()) {
    ASSIGN_OR_RETURN(impl->store, SqliteStore::Open(fs::JoinPath(impl->dir, "index.sqlite")));
  } else {
    PgStoreOptions pg_options;
    pg_options.conninfo = options.postgres;
    pg_options.schema = options.postgres_schema;
    ASSIGN_OR_RETURN(impl->store, PgStore::Open(pg_options));
  }
  impl->registry = std::make_unique<NodeRegistry>(*impl->store);
  RETURN_IF_ERROR(impl->CatchUp());
  RETURN_IF_ERROR(impl->LoadRegistry());
  Impl* p = impl.get();
  impl->sequencer = std::thread([p] { p->Sequence(); });
  impl->committer = std::thread([p] { p->Commit(); });
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

std::vector<Result<Accepted>> Node::SubmitMany(std::span<const ByteView> leaves) {
  std::vector<Result<Accepted>> out(leaves.size(), Result<Accepted>(Internal("not answered")));
  std::vector<std::pair<size_t, std::future<Result<Accepted>>>> waiting;
  std::vector<std::unique_ptr<Impl::Waiter>> ready;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Result<statement::SignedStatement> s = statement::Parse(leaves[i]);
    if (!s.ok()) {
      impl_->counters.refused++;
      out[i] = s.status();
      continue;
    }
    auto w = std::make_unique<Impl::Waiter>();
    w->s = std::move(s).value();
    w->id = HexEncode(ByteView(reinterpret_cast<const char*>(crypto::Sha256(leaves[i]).data()), 32));
    waiting.emplace_back(i, w->done.get_future());
    ready.push_back(std::move(w));
  }
  if (Status f = impl_->Failed(); !f.ok()) {
    for (auto& [i, fut] : waiting) out[i] = f;
    return out;
  }
  {
    std::unique_lock lock(impl_->mu);
    for (auto& w : ready) {
      impl_->space_cv.wait(lock, [&] { return impl_->stopping || impl_->queue.size() < kMaxWaiting; });
      if (impl_->stopping) {
        w->done.set_value(Unavailable("the node is stopping"));
        continue;
      }
      impl_->queue.push_back(std::move(w));
      impl_->queue_cv.notify_one();
    }
  }
  for (auto& [i, fut] : waiting) out[i] = fut.get();
  return out;
}

Result<Accepted> Node::Submit(ByteView leaf) {
  ByteView one[1] = {leaf};
  return std::move(SubmitMany(one)[0]);
}

Store& Node::store() {
  return *impl_->store;
}
const std::string& Node::log_dir() const {
  return impl_->log_dir;
}
const std::string& Node::origin() const {
  return impl_->origin;
}
tlog::VerifiedCheckpoint Node::checkpoint() const {
  return impl_->log->checkpoint();
}
Result<tlog::VerifiedCheckpoint> Node::Sync() {
  return impl_->log->WaitForCheckpoint(impl_->indexed.load());
}
const note::Verifier& Node::verifier() const {
  return impl_->log->verifier();
}
const NodeCounters& Node::counters() const {
  return impl_->counters;
}

}  // namespace accord::node
