#include "node/node.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/bytes.h"
#include "core/fs.h"
#include "core/limits.h"
#include "core/thread_name.h"
#include "crypto/sha256.h"
#include "node/pg_lease.h"
#include "node/pg_log.h"
#include "node/pg_store.h"
#include "node/sqlite_store.h"
#include "statement/statement.h"
#include "tlog/log.h"
#include "tlog/tile.h"

namespace accord::node {
namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string KeyString(const crypto::Ed25519PublicKey& k) {
  return std::string(k.begin(), k.end());
}

// The most statements in one round of the log.
constexpr size_t kMaxRound = 8192;
// PostgreSQL: the most submissions the sequencer takes in one fenced transaction, and the most
// entries a replica appends at once.
constexpr size_t kMaxClusterRound = 1000;
constexpr size_t kMaxReplicaBatch = 4096;
// How long an outcome waits for a waiter that was not registered yet (Impl::early).
constexpr std::chrono::minutes kEarlyOutcomeTtl{10};
// How long the id of a submission whose waiter gave up is kept to drop its outcome: as long as an
// outcome nobody took stays in PostgreSQL (PgLog::PurgeOutcomes, 60 minutes).
constexpr std::chrono::minutes kAbandonedTtl{60};

std::string LeafId(ByteView leaf) {
  return HexEncode(ByteView(reinterpret_cast<const char*>(crypto::Sha256(leaf).data()), 32));
}

std::string HashBytes(const tlog::Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

// The compact range of the first `size` entries of the log in `dir`, a tree of `tree_size`
// (>= size) entries, read from its tiles.
Result<tlog::CompactRange> RangeOfTiles(const std::string& dir, uint64_t tree_size, uint64_t size) {
  tlog::DirTileReader reader(dir);
  tlog::TileHashSource source(reader, tree_size);
  std::vector<tlog::Hash> hashes;
  uint64_t start = 0;
  for (int h = 63; h >= 0; --h) {
    if (((size >> h) & 1) == 0) continue;
    ASSIGN_OR_RETURN(tlog::Hash node, source.Node(h, start >> h));
    hashes.push_back(node);
    start += uint64_t(1) << h;
  }
  return tlog::CompactRange::FromHashes(size, std::move(hashes));
}

// Unique per process incarnation (pg_lease.h): host, pid (which operators and tests read) and a
// random part.
std::string HolderName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  std::random_device rd;
  char rnd[17];
  std::snprintf(rnd, sizeof rnd, "%08x%08x", rd(), rd());
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + rnd;
}

// What validation needs of the log's state, kept in memory and updated as statements are
// sequenced (before they are durable: a round that fails stops the node, so the registry never
// runs ahead of a log that goes on). Used by the sequencer thread only.
class NodeRegistry : public statement::Registry {
 public:
  NodeRegistry(Store& store, const crypto::Ed25519PublicKey& node_key, std::string origin)
      : store_(store), node_key_(node_key), origin_(std::move(origin)) {}

  // The node's own attestations (TAXII POST) are the only ones this log takes.
  bool IsAttester(const crypto::Ed25519PublicKey& key) const override { return key == node_key_; }
  std::string_view LogOrigin() const override { return origin_; }

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
  bool IsRetracted(uint64_t index) const override {
    if (retracted_recent_.count(index)) return true;
    auto r = store_.Get(index);
    return r.ok() && r->has_value() && (*r)->retracted;
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
        retracted_recent_[target] = index;
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
    for (auto it = retracted_recent_.begin(); it != retracted_recent_.end();)
      it = it->second < below ? retracted_recent_.erase(it) : std::next(it);
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
  crypto::Ed25519PublicKey node_key_;
  std::string origin_;
  std::unordered_map<std::string, Participant> participants_;
  std::unordered_set<std::string> rules_;  // author key || rule name, of unretracted rules
  std::unordered_map<uint64_t, std::vector<std::string>> yara_;
  std::unordered_map<uint64_t, Recent> recent_;              // sequenced, maybe not yet indexed
  std::unordered_map<uint64_t, uint64_t> retracted_recent_;  // target -> its retraction, of recent_
};

}  // namespace

Result<Record> RecordFromLeaf(uint64_t index, ByteView leaf, int64_t added_us) {
  auto doc = json::Json::parse(leaf, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("statement"))
    return DataLoss("entry " + std::to_string(index) + " is not a statement");
  const auto& st = doc["statement"];
  Record r;
  r.index = index;
  r.id = HexEncode(ByteView(reinterpret_cast<const char*>(crypto::Sha256(leaf).data()), 32));
  r.added_us = added_us;
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
  note::Signer node_key;  // signs the log's checkpoints (through `log`) and node attestations
  NodeCounters counters;

  // Where a submission's outcome goes: SubmitAsync's callback, or Submit's future.
  struct Completion {
    std::promise<Result<Accepted>> promise;
    SubmitCallback then;
    void set_value(Result<Accepted> r) {
      if (then)
        then(std::move(r));
      else
        promise.set_value(std::move(r));
    }
    std::future<Result<Accepted>> get_future() { return promise.get_future(); }
  };
  // A submission waiting for the sequencer, then for its round.
  struct Waiter {
    statement::SignedStatement s;
    std::string id;
    Completion done;
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

  // PostgreSQL (NodeOptions::postgres; node.h): the log's truth is `pglog`, DIR/log a replica.
  bool cluster = false;
  NodeOptions options;
  std::unique_ptr<PgLog> pglog;
  std::unique_ptr<PgLease> lease;
  std::string holder;
  uint64_t replica_size = 0;         // entries appended to DIR/log; the cluster thread's (Open's before)
  std::string replica_last_id;       // LeafId of entry replica_size - 1 ("" until read); the same
  tlog::CompactRange replica_range;  // the replica's tree (of replica_size entries)
  std::atomic<bool> cluster_stop{false};
  std::thread cluster_thread;
  struct ClusterWaiter {
    std::promise<Result<Accepted>> done;
    std::string id;
  };
  std::mutex wait_mu;
  bool cluster_closed = false;  // no more waiters: the node is stopping
  std::unordered_map<int64_t, std::shared_ptr<ClusterWaiter>> cluster_waiters;
  // Outcomes taken before their waiter was known (it registers right after its Enqueue returns),
  // with when they came. One whose Enqueue failed ambiguously (the commit's answer lost) has no
  // waiter ever: DeliverOutcomes drops those older than kEarlyOutcomeTtl.
  struct EarlyOutcome {
    Outcome outcome;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<int64_t, EarlyOutcome> early;
  // Waiters that gave up, with when: their outcomes are dropped. Forgotten after
  // kAbandonedTtl (the outcome of a submission nobody sequences never comes).
  std::unordered_map<int64_t, std::chrono::steady_clock::time_point> abandoned;

  // Parse (bytes, body, signature): a waiter for the sequencer, or the refusal.
  Result<std::unique_ptr<Waiter>> Prepare(ByteView leaf) {
    Result<statement::SignedStatement> s = statement::Parse(leaf);
    if (!s.ok()) {
      counters.refused++;
      return s.status();
    }
    auto w = std::make_unique<Waiter>();
    w->s = std::move(s).value();
    w->id = HexEncode(ByteView(reinterpret_cast<const char*>(crypto::Sha256(leaf).data()), 32));
    return w;
  }
  // Hands the waiters to the sequencer, or answers them at once when the log has failed or the
  // node is stopping. While options.max_waiting are queued, waits for room if `wait`, else answers
  // Unavailable (SubmitAsync's callers are event loops that must not block).
  void Enqueue(std::vector<std::unique_ptr<Waiter>>& ready, bool wait) {
    if (Status f = Failed(); !f.ok()) {
      for (auto& w : ready) w->done.set_value(f);
      return;
    }
    std::vector<std::unique_ptr<Waiter>> refused;
    bool was_stopping = false;
    {
      std::unique_lock lock(mu);
      for (auto& w : ready) {
        if (wait) space_cv.wait(lock, [&] { return stopping || queue.size() < options.max_waiting; });
        if (stopping || queue.size() >= options.max_waiting) {
          was_stopping = stopping;
          refused.push_back(std::move(w));
          continue;
        }
        queue.push_back(std::move(w));
        queue_cv.notify_one();
      }
    }
    // Answered outside the lock: a callback may take locks of its own.
    for (auto& w : refused)
      w->done.set_value(Unavailable(was_stopping
                                        ? "the node is stopping"
                                        : "the node is busy: " + std::to_string(options.max_waiting) +
                                              " statements wait for the log; submit again later"));
  }

  Status Failed() {
    std::lock_guard lock(failed_mu);
    return failed;
  }
  void Fail(const Status& s) {
    std::lock_guard lock(failed_mu);
    // A statement answered with this may still be in the log (its round was durable when the index
    // failed): resubmitting it is safe, it then answers with its index.
    if (failed.ok())
      failed = Unavailable(std::string(kStoppedAccepting) +
                           " (one sent just now may be logged; resubmitting is safe): " + s.message());
  }

  Status CatchUp();
  // `keep_lease` (cluster mode) is called between pages: loading a large registry may take longer
  // than the lease's time to live, which must not expire under it.
  Status LoadRegistry(const std::function<Status()>& keep_lease = {});
  void Sequence();
  void Commit();

  Status OpenCluster();
  Status SeedFromReplica();
  Status Replicate();
  Result<size_t> SequenceCluster(const Fence& fence, const std::function<Status()>& keep_lease);
  Status DeliverOutcomes();
  void Deliver(const std::shared_ptr<ClusterWaiter>& w, const Outcome& o);
  void RunCluster();
  std::vector<Result<Accepted>> SubmitCluster(std::span<const ByteView> leaves);
};

Status Node::Impl::CatchUp() {
  ASSIGN_OR_RETURN(uint64_t have, store->Size());
  uint64_t size = log->checkpoint().checkpoint.size;
  if (have > size)
    return DataLoss("the index holds " + std::to_string(have) + " statements, the log only " +
                    std::to_string(size) + ": the index belongs to another log");
  tlog::DirTileReader reader(log_dir);
  std::vector<Record> batch;
  int64_t now = NowUs();
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

Status Node::Impl::LoadRegistry(const std::function<Status()>& keep_lease) {
  ASSIGN_OR_RETURN(auto participants, store->Participants());
  for (const auto& p : participants) registry->LoadParticipant(p);
  ListQuery q;
  q.kind = statement::Kind::kYaraRule;
  q.limit = 1000;
  for (;;) {
    if (keep_lease) RETURN_IF_ERROR(keep_lease());
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
      if (options.before_round) {
        lock.unlock();
        options.before_round();
        lock.lock();
      }
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
    // The log journals rounds in order: once the newest is durable, so are the others, and the
    // thread wakes once for the group instead of once per round.
    for (auto it = group.rbegin(); it != group.rend(); ++it) it->appended.wait();
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
      int64_t now = NowUs();
      for (auto& r : records) r.added_us = now;
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

// PostgreSQL (node.h). Only the cluster thread and Open touch replica_size and registry.

Status Node::Impl::Replicate() {
  for (;;) {
    // What follows must continue this replica. Not so only if PostgreSQL lost committed entries (a
    // failover to a standby that lagged, a restore) and a sequencer committed others at their
    // indices: appending would sign a second tree of the same log. Every commit records the root
    // of the tree it ends (pg_log.h, tree_heads): the entries up to the next recorded head are
    // appended only if this replica's tree with them has that root, which checks every entry the
    // replica holds, not only its last. Otherwise the node stops (DataLoss), as at Open.
    // The entries first, then the heads: a head is committed with its entries, so every commit
    // whose entries were read has its head visible to the second read.
    ASSIGN_OR_RETURN(std::vector<std::string> leaves, pglog->Entries(replica_size, kMaxReplicaBatch));
    if (leaves.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(std::optional<TreeHead> next_head, pglog->HeadAfter(replica_size, leaves.size()));
    // No head within what was read: entries committed before heads were (schema version 4; no
    // round of a sequencer that records them is larger than a batch).
    TreeHead none;
    const TreeHead& h = next_head ? *next_head : none;
    const bool head = h.size > replica_size && h.size - replica_size <= leaves.size();
    if (head) leaves.resize(size_t(h.size - replica_size));  // up to the head; the rest next time
    tlog::CompactRange next = replica_range;
    for (const auto& leaf : leaves) next.Append(tlog::HashLeaf(leaf));
    bool continues = true;
    if (head) {
      continues = HashBytes(next.Root()) == h.root;
    } else if (replica_size > 0) {
      // Entries committed before heads were recorded: the replica's last entry is compared.
      if (replica_last_id.empty()) {
        tlog::DirTileReader reader(log_dir);
        ASSIGN_OR_RETURN(Bytes last, tlog::ReadEntry(reader, replica_size - 1, replica_size));
        replica_last_id = LeafId(last);
      }
      ASSIGN_OR_RETURN(std::optional<uint64_t> at, store->FindId(replica_last_id));
      continues = at == replica_size - 1;
    }
    if (!continues) {
      Status lost = DataLoss(
          log_dir + ": the tree of " + std::to_string(replica_size) +
          " entries it holds is not PostgreSQL's: the database lost entries this replica holds and holds "
          "others in their place (restore it, or remove " +
          log_dir + " to follow the database's log, whose checkpoints then contradict the published ones)");
      Fail(lost);
      return lost;
    }
    // The replica failing (a full disk, an entry it cannot hold) is not a passing fault: the node
    // stops accepting statements (the other processes go on).
    tlog::EntryBatch batch;
    Status local;
    for (const auto& leaf : leaves)
      if (local.ok()) local = batch.Add(leaf);
    Result<uint64_t> first = local.ok() ? log->Submit(std::move(batch)).get() : Result<uint64_t>(local);
    if (first.ok() && *first != replica_size)
      first = Internal("put entry " + std::to_string(replica_size) + " at " + std::to_string(*first));
    if (!first.ok()) {
      local = first.status().WithContext("the replica in " + log_dir);
      Fail(local);
      return local;
    }
    replica_size += leaves.size();
    replica_last_id = LeafId(leaves.back());
    replica_range = std::move(next);
    indexed = replica_size;
  }
}

// DIR/log holds entries that PostgreSQL lacks: a log that moves to PostgreSQL (or a database
// restored from an older backup). Under the lease, they are copied in; nobody else can write.
Status Node::Impl::SeedFromReplica() {
  ASSIGN_OR_RETURN(uint64_t have, pglog->Size());
  Result<uint64_t> epoch = lease->Acquire(holder, options.lease_ttl);
  if (!epoch.ok())
    return FailedPrecondition(log_dir + " has " + std::to_string(replica_size) +
                              " entries, PostgreSQL only " + std::to_string(have) +
                              ", and another process sequences (" + epoch.status().message() +
                              "): start this process alone to copy them in, or remove " + log_dir +
                              " to replicate PostgreSQL's log");
  Fence fence{"sequencer", holder, *epoch, options.lease_ttl};  // each round renews it: seeding can be long
  tlog::DirTileReader reader(log_dir);
  int64_t now = NowUs();
  Result<tlog::CompactRange> range = RangeOfTiles(log_dir, replica_size, have);
  Status st = range.status();
  for (uint64_t from = have; from < replica_size && st.ok(); from += kMaxClusterRound) {
    std::vector<Record> records;
    const std::string from_root = HashBytes(range->Root());
    for (uint64_t i = from; i < std::min(replica_size, from + kMaxClusterRound) && st.ok(); ++i) {
      Result<Bytes> leaf = tlog::ReadEntry(reader, i, replica_size);
      if (!leaf.ok()) st = leaf.status();
      Result<Record> r = st.ok() ? RecordFromLeaf(i, *leaf, now) : Result<Record>(st);
      if (r.ok()) {
        range->Append(tlog::HashLeaf(r->leaf));
        records.push_back(std::move(r).value());
      } else {
        st = r.status();
      }
    }
    if (st.ok()) st = pglog->Commit(fence, records, {from_root, HashBytes(range->Root())}, {});
  }
  (void)lease->Release(holder, *epoch);
  return st;
}

Status Node::Impl::OpenCluster() {
  PgLogOptions lo;
  lo.conninfo = options.postgres;
  lo.schema = options.postgres_schema;
  ASSIGN_OR_RETURN(pglog, PgLog::Open(lo));
  PgLeaseOptions leo;
  leo.conninfo = options.postgres;
  leo.schema = options.postgres_schema;
  ASSIGN_OR_RETURN(lease, PgLease::Open(leo));
  holder = HolderName();
  RETURN_IF_ERROR(pglog->Claim(origin, note::FormatVerifierKey(log->verifier())));
  replica_size = log->checkpoint().checkpoint.size;
  indexed = replica_size;
  ASSIGN_OR_RETURN(replica_range, RangeOfTiles(log_dir, replica_size, replica_size));
  if (replica_range.Root() != log->checkpoint().checkpoint.root)
    return DataLoss(log_dir + ": its tiles do not hash to its checkpoint's root");
  ASSIGN_OR_RETURN(uint64_t have, pglog->Size());
  // The replica and PostgreSQL MUST be the same log: their last common entry is compared (both
  // are append-only, and a replica only ever appends what PostgreSQL committed).
  if (uint64_t common = std::min(have, replica_size); common > 0) {
    tlog::DirTileReader reader(log_dir);
    ASSIGN_OR_RETURN(Bytes mine, tlog::ReadEntry(reader, common - 1, replica_size));
    ASSIGN_OR_RETURN(std::vector<std::string> theirs, pglog->Entries(common - 1, 1));
    if (theirs.size() != 1 || theirs[0] != mine)
      return DataLoss(log_dir + ": entry " + std::to_string(common - 1) +
                      " differs from PostgreSQL's: this replica belongs to another log (remove it to "
                      "replicate PostgreSQL's)");
    // And the whole tree, up to PostgreSQL's last recorded head within it: a replica that holds
    // entries PostgreSQL lost, with others in their place, is not copied in nor continued.
    ASSIGN_OR_RETURN(std::optional<TreeHead> head, pglog->HeadAtMost(common));
    if (head) {
      // At the replica's size the range read above serves; below it, the tiles are read again.
      tlog::CompactRange r = replica_range;
      if (head->size != replica_size) {
        ASSIGN_OR_RETURN(r, RangeOfTiles(log_dir, replica_size, head->size));
      }
      if (HashBytes(r.Root()) != head->root)
        return DataLoss(log_dir + ": the tree of its first " + std::to_string(head->size) +
                        " entries is not PostgreSQL's: the database lost entries this replica holds and "
                        "holds others in their place, or the replica belongs to another log (restore "
                        "the database, or remove " +
                        log_dir + " to follow the database's log)");
    }
  }
  if (replica_size > have) RETURN_IF_ERROR(SeedFromReplica());
  RETURN_IF_ERROR(Replicate());
  return Status::Ok();
}

void Node::Impl::Deliver(const std::shared_ptr<ClusterWaiter>& w, const Outcome& o) {
  if (!o.status.ok()) {
    counters.refused++;
    w->done.set_value(o.status);
    return;
  }
  (o.duplicate ? counters.duplicates : counters.accepted)++;
  w->done.set_value(Accepted{o.index, w->id, o.duplicate});
}

Status Node::Impl::DeliverOutcomes() {
  ASSIGN_OR_RETURN(std::vector<Outcome> outcomes, pglog->TakeOutcomes(holder));
  std::lock_guard lock(wait_mu);
  for (Outcome& o : outcomes) {
    if (abandoned.erase(o.id)) continue;
    auto it = cluster_waiters.find(o.id);
    if (it == cluster_waiters.end()) {
      int64_t id = o.id;
      early.emplace(id, EarlyOutcome{std::move(o), std::chrono::steady_clock::now()});
      continue;
    }
    Deliver(it->second, o);
    cluster_waiters.erase(it);
  }
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(early, [&](const auto& e) { return e.second.at < now - kEarlyOutcomeTtl; });
  std::erase_if(abandoned, [&](const auto& a) { return a.second < now - kAbandonedTtl; });
  return Status::Ok();
}

Result<size_t> Node::Impl::SequenceCluster(const Fence& fence, const std::function<Status()>& keep_lease) {
  ASSIGN_OR_RETURN(std::vector<Submission> waiting, pglog->Waiting(kMaxClusterRound));
  if (waiting.empty()) return size_t{0};
  registry->Forget(replica_size);
  uint64_t next = replica_size;
  std::vector<Record> records;
  std::vector<Outcome> outcomes;
  std::unordered_map<std::string, uint64_t> batch_ids;
  int64_t now = NowUs();
  for (Submission& sub : waiting) {
    // A round of 1,000 (a round trip and a parse each, YARA compiles) may outlast the lease.
    if (outcomes.size() % 64 == 63) RETURN_IF_ERROR(keep_lease());
    Outcome o;
    o.id = sub.id;
    // Parsed again: the database holds bytes, and the checks cost little beside a round trip.
    Result<statement::SignedStatement> s = statement::Parse(sub.leaf);
    if (!s.ok()) {
      o.status = s.status();
      outcomes.push_back(std::move(o));
      continue;
    }
    std::string id = LeafId(sub.leaf);
    std::optional<uint64_t> known;
    if (auto it = batch_ids.find(id); it != batch_ids.end()) {
      known = it->second;
    } else {
      ASSIGN_OR_RETURN(known, store->FindId(id));
    }
    if (known) {
      o.index = *known;
      o.duplicate = true;
    } else if (Status v = statement::Validate(*s, *registry); !v.ok()) {
      o.status = v;
    } else {
      o.index = next++;
      registry->Apply(o.index, *s);
      batch_ids.emplace(id, o.index);
      Record r;
      r.index = o.index;
      r.id = std::move(id);
      r.added_us = now;
      r.leaf = std::move(sub.leaf);
      r.kind = s->statement.kind;
      r.author = s->statement.author;
      r.created = s->statement.created;
      records.push_back(std::move(r));
    }
    outcomes.push_back(std::move(o));
  }
  // The root of the tree these entries end: the replica's (PostgreSQL's, which Replicate checked
  // and nobody else appends to while the lease is held) with them.
  tlog::CompactRange after = replica_range;
  for (const Record& r : records) after.Append(tlog::HashLeaf(r.leaf));
  const std::string from = HashBytes(replica_range.Root()), to = HashBytes(after.Root());
  RETURN_IF_ERROR(keep_lease());
  RETURN_IF_ERROR(pglog->Commit(fence, records, {from, to}, outcomes));
  counters.rounds++;
  return waiting.size();
}

void Node::Impl::RunCluster() {
  using Clock = std::chrono::steady_clock;
  const std::chrono::milliseconds ttl = options.lease_ttl;
  std::unique_ptr<pg::Conn> listener;
  Fence fence;
  fence.holder = holder;
  fence.renew = ttl;
  // Notifications wake the thread at once; this is the fallback poll, and short enough that the
  // lease is renewed in time.
  const int wait_ms = int(std::clamp<int64_t>(ttl.count() / 6, 10, 200));
  bool leading = false;
  Clock::time_point renewed{}, next_try{}, purged{};
  // Renews the lease if a third of its time to live passed since it was last renewed: called
  // here, and by the long steps that follow taking it (loading the registry, a round).
  auto keep_lease = [&]() -> Status {
    Clock::time_point t = Clock::now();
    if (t - renewed < ttl / 3) return Status::Ok();
    Status s = lease->Renew(holder, fence.epoch, ttl);
    if (s.ok()) renewed = t;
    return s;
  };
  auto step_down = [&] {
    leading = false;
    registry.reset();  // it may have run ahead of what was committed
    counters.sequencer_epoch = 0;
  };
  while (!cluster_stop.load()) {
    if (!listener || !listener->ok()) {
      auto l = pglog->Listen();
      listener = l.ok() ? std::move(l).value() : nullptr;
    }
    Clock::time_point now = Clock::now();
    if (leading && !keep_lease().ok()) step_down();
    // Answers an hour old are gone from the table, also those whose process died before it took
    // them: by the sequencer, when it takes the lease and every few minutes while it holds it.
    if (leading && registry && now - purged >= std::chrono::minutes(5)) {
      (void)pglog->PurgeOutcomes(60);
      purged = now;
    }
    if (!leading && now >= next_try && Failed().ok()) {
      Result<uint64_t> epoch = lease->Acquire(holder, ttl);
      if (epoch.ok()) {
        leading = true;
        fence.epoch = *epoch;
        renewed = now;
      } else {
        next_try = now + std::min<std::chrono::milliseconds>(ttl / 5, std::chrono::milliseconds(500));
      }
    }
    // Every process applies what was committed; the sequencer thereby catches up after taking
    // the lease (nobody else commits once it holds it) and after each of its own commits.
    Status st = Replicate();
    size_t worked = 0;
    const bool held = leading;  // a failure below steps down: the lease is then released
    if (st.ok() && leading) {
      if (!registry) {
        registry = std::make_unique<NodeRegistry>(*store, node_key.key.public_key, origin);
        st = LoadRegistry(keep_lease);
        if (st.ok()) {
          (void)pglog->PurgeOutcomes(60);
          purged = Clock::now();
        }
      }
      if (st.ok()) {
        Result<size_t> n = SequenceCluster(fence, keep_lease);
        st = n.ok() ? Replicate() : n.status();
        if (n.ok()) worked = *n;
      }
      if (!st.ok()) step_down();
    }
    counters.sequencer_epoch = leading ? fence.epoch : 0;
    // A log with a hole is not a passing fault either.
    if (st.code() == Code::kDataLoss) Fail(st);
    if (!Failed().ok() && held) {
      step_down();
      (void)lease->Release(holder, fence.epoch);  // another process need not wait for it to expire
    }
    (void)DeliverOutcomes();
    if (worked > 0) continue;
    if (listener) {
      if (!listener->WaitForNotification(wait_ms).ok()) listener.reset();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
  }
  if (leading) (void)lease->Release(holder, fence.epoch);
  counters.sequencer_epoch = 0;
}

std::vector<Result<Accepted>> Node::Impl::SubmitCluster(std::span<const ByteView> leaves) {
  std::vector<Result<Accepted>> out(leaves.size(), Result<Accepted>(Internal("not answered")));
  std::vector<size_t> positions;
  std::vector<ByteView> queued;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Result<statement::SignedStatement> s = statement::Parse(leaves[i]);
    if (!s.ok()) {
      counters.refused++;
      out[i] = s.status();
      continue;
    }
    positions.push_back(i);
    queued.push_back(leaves[i]);
  }
  if (queued.empty()) return out;
  if (Status f = Failed(); !f.ok()) {
    for (size_t i : positions) out[i] = f;
    return out;
  }
  Result<std::vector<int64_t>> ids = pglog->Enqueue(holder, queued);
  if (!ids.ok()) {
    Status down = Unavailable(ids.status().message());
    for (size_t i : positions) out[i] = down;
    return out;
  }
  std::vector<std::pair<size_t, std::future<Result<Accepted>>>> waiting;
  {
    std::lock_guard lock(wait_mu);  // Deliver runs under it too: get_future never races set_value
    for (size_t k = 0; k < positions.size(); ++k) {
      auto w = std::make_shared<ClusterWaiter>();
      w->id = LeafId(queued[k]);
      waiting.emplace_back(positions[k], w->done.get_future());
      int64_t sid = (*ids)[k];
      if (auto e = early.find(sid); e != early.end()) {
        Deliver(w, e->second.outcome);
        early.erase(e);
      } else if (cluster_closed) {
        w->done.set_value(Unavailable("the node is stopping"));
      } else {
        cluster_waiters.emplace(sid, w);
      }
    }
  }
  auto deadline = std::chrono::steady_clock::now() + options.submit_timeout;
  for (size_t k = 0; k < waiting.size(); ++k) {
    auto& [i, f] = waiting[k];
    if (f.wait_until(deadline) == std::future_status::ready) {
      out[i] = f.get();
      continue;
    }
    std::lock_guard lock(wait_mu);
    if (cluster_waiters.erase((*ids)[k]) == 0) {  // answered meanwhile
      out[i] = f.get();
      continue;
    }
    abandoned.emplace((*ids)[k], std::chrono::steady_clock::now());
    out[i] = Unavailable("no answer from the log's sequencer within " +
                         std::to_string(options.submit_timeout.count()) +
                         " ms; the statement may still be logged, and submitting it again is safe");
  }
  return out;
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() {
  if (impl_->cluster) {
    impl_->cluster_stop = true;
    if (impl_->cluster_thread.joinable()) impl_->cluster_thread.join();
    std::lock_guard lock(impl_->wait_mu);
    impl_->cluster_closed = true;
    for (auto& [id, w] : impl_->cluster_waiters) w->done.set_value(Unavailable("the node is stopping"));
    impl_->cluster_waiters.clear();
    return;
  }
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
  if (options.max_waiting == 0) return InvalidArgument("NodeOptions::max_waiting must be at least 1");
  // One witness named twice would count twice towards the quorum; clients count each key once.
  for (size_t i = 0; i < options.witnesses.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (options.witnesses[i].key.public_key == options.witnesses[j].key.public_key ||
          (options.witnesses[i].key.name == options.witnesses[j].key.name &&
           options.witnesses[i].key.key_id == options.witnesses[j].key.key_id))
        return InvalidArgument("witness " + options.witnesses[i].key.name + " is named twice");
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
  if (!fs::Exists(fs::JoinPath(impl->dir, "node.vkey")) && fs::Exists(key_path)) {
    // A key copied from another process of the log: its verifier key goes beside it.
    ASSIGN_OR_RETURN(std::string text, fs::ReadFile(key_path, 4096));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    ASSIGN_OR_RETURN(note::Signer signer, note::ParseSignerKey(text));
    RETURN_IF_ERROR(fs::WriteFileAtomic(fs::JoinPath(impl->dir, "node.vkey"),
                                        note::FormatVerifierKey(signer.verifier()) + "\n", 0644));
  }
  {
    // The key that signs the log's checkpoints also signs the node's attestations.
    ASSIGN_OR_RETURN(std::string text, fs::ReadFile(config.key_path, limits::kMaxKeyFileSize));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    Result<note::Signer> key = note::ParseSignerKey(text);
    if (!key.ok()) return key.status().WithContext(config.key_path);
    impl->node_key = std::move(key).value();
  }
  ASSIGN_OR_RETURN(impl->log,
                   tlog::LogWriter::Open(impl->log_dir, tlog::LogOptions{!options.witnesses.empty()}));
  if (impl->log->verifier().public_key != impl->node_key.key.public_key)
    return Internal(config.key_path + ": not the key that signs " + impl->log_dir);
  if (!options.witnesses.empty()) {
    CosignerOptions co = options.cosigner;
    co.shared_log = !options.postgres.empty();
    impl->cosigner = std::make_unique<Cosigner>(*impl->log, options.witnesses, co);
  }
  impl->options = options;
  if (!options.postgres.empty()) {
    impl->cluster = true;
    PgStoreOptions pg_options;
    pg_options.conninfo = options.postgres;
    pg_options.schema = options.postgres_schema;
    ASSIGN_OR_RETURN(impl->store, PgStore::Open(pg_options));
    RETURN_IF_ERROR(impl->OpenCluster());
    Impl* p = impl.get();
    impl->cluster_thread = std::thread([p] {
      NameThisThread("accord-cluster");
      p->RunCluster();
    });
    return std::unique_ptr<Node>(new Node(std::move(impl)));
  }
  ASSIGN_OR_RETURN(impl->store, SqliteStore::Open(fs::JoinPath(impl->dir, "index.sqlite")));
  impl->registry = std::make_unique<NodeRegistry>(*impl->store, impl->node_key.key.public_key, impl->origin);
  RETURN_IF_ERROR(impl->CatchUp());
  RETURN_IF_ERROR(impl->LoadRegistry());
  Impl* p = impl.get();
  impl->sequencer = std::thread([p] {
    NameThisThread("accord-sequence");
    p->Sequence();
  });
  impl->committer = std::thread([p] {
    NameThisThread("accord-index");
    p->Commit();
  });
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

std::vector<Result<Accepted>> Node::SubmitMany(std::span<const ByteView> leaves) {
  if (impl_->cluster) return impl_->SubmitCluster(leaves);
  std::vector<Result<Accepted>> out(leaves.size(), Result<Accepted>(Internal("not answered")));
  std::vector<std::pair<size_t, std::future<Result<Accepted>>>> waiting;
  std::vector<std::unique_ptr<Impl::Waiter>> ready;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Result<std::unique_ptr<Impl::Waiter>> w = impl_->Prepare(leaves[i]);
    if (!w.ok()) {
      out[i] = w.status();
      continue;
    }
    waiting.emplace_back(i, (*w)->done.get_future());
    ready.push_back(std::move(w).value());
  }
  impl_->Enqueue(ready, /*wait=*/true);
  for (auto& [i, fut] : waiting) out[i] = fut.get();
  return out;
}

void Node::SubmitAsync(ByteView leaf, SubmitCallback done) {
  if (impl_->cluster) return done(std::move(SubmitMany(std::span<const ByteView>(&leaf, 1))[0]));
  Result<std::unique_ptr<Impl::Waiter>> w = impl_->Prepare(leaf);
  if (!w.ok()) return done(w.status());
  (*w)->done.then = std::move(done);
  std::vector<std::unique_ptr<Impl::Waiter>> one;
  one.push_back(std::move(w).value());
  impl_->Enqueue(one, /*wait=*/false);
}

bool Node::SubmitsAsync() const {
  return !impl_->cluster;
}

Result<Bytes> Node::Attest(const statement::Statement& s) const {
  return statement::Attest(s, impl_->node_key.key);
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
