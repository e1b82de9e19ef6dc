// The log in PostgreSQL on a real server (pg_test_util.h): PgLog's fenced commits and queue, and
// Node processes (here: Node objects with directories of their own, as processes would have)
// that share one log: one sequences, all answer, replicas converge byte for byte, a sequencer
// that goes away is replaced, and a database outage is answered Unavailable, not a crash.
#include "node/pg_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "core/bytes.h"
#include "core/canonical_json.h"
#include "crypto/sha256.h"
#include "node/node.h"
#include "node/pg_lease.h"
#include "node/pg_test_util.h"
#include "node/test_util.h"
#include "tlog/log.h"

namespace accord::node {
namespace {

using namespace std::chrono_literals;
using json::Json;
using statement::Kind;
using testing::Key;
using testing::KeyB64;
using testing::Signed;

std::string Registration(const crypto::Ed25519KeyPair& k, std::string name = "Example CERT") {
  return Signed(
      Kind::kRegistration, k,
      {{"name", name}, {"country", "DE"}, {"contact", "cert@example.org"}, {"key", KeyB64(k.public_key)}});
}
std::string HashSet(const crypto::Ed25519KeyPair& k, int n) {
  std::string digest =
      HexEncode(ByteView(reinterpret_cast<const char*>(crypto::Sha256(std::to_string(n)).data()), 32));
  return Signed(Kind::kHashSet, k,
                {{"entries",
                  Json::array({{{"hash", "sha256"}, {"digest", digest}, {"name", "T.Sig"}, {"size", 68}}})}});
}
std::string Retraction(const crypto::Ed25519KeyPair& k, uint64_t index) {
  return Signed(Kind::kRetraction, k, {{"index", index}, {"reason", "test"}});
}

Record RecordOf(uint64_t index, const std::string& leaf) {
  auto r = RecordFromLeaf(index, leaf, 1);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Record{};
}

// The RFC 9162 root of the tree of `leaves` (tlog's, checked against the RFC's vectors in
// tlog/merkle_test.cc), as a sequencer records it with a commit.
std::string RootOf(const std::vector<std::string>& leaves) {
  tlog::CompactRange r;
  for (const auto& l : leaves) r.Append(tlog::HashLeaf(l));
  tlog::Hash h = r.Root();
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

// The roots a commit of the entries of `leaves` from index `from` on states.
struct RootsOf {
  std::string from, to;
  operator PgLog::Roots() const { return {from, to}; }
};
RootsOf Roots(const std::vector<std::string>& leaves, size_t from) {
  return {RootOf({leaves.begin(), leaves.begin() + ptrdiff_t(from)}), RootOf(leaves)};
}

class PgLogTest : public testing::PgTest {
 protected:
  std::unique_ptr<PgLog> OpenLog() {
    PgLogOptions o;
    o.conninfo = testing::TestConninfo();
    o.schema = schema_;
    auto l = PgLog::Open(o);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? std::move(l).value() : nullptr;
  }
  std::unique_ptr<PgLease> OpenLease() {
    PgLeaseOptions o;
    o.conninfo = testing::TestConninfo();
    o.schema = schema_;
    auto l = PgLease::Open(o);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? std::move(l).value() : nullptr;
  }
};

TEST_F(PgLogTest, RefusesAProcessOfAnotherLogOrKey) {
  auto log = OpenLog();
  ASSERT_TRUE(log);
  EXPECT_TRUE(log->Claim("a.example/log", "a.example/log+01+KEY").ok());
  EXPECT_TRUE(log->Claim("a.example/log", "a.example/log+01+KEY").ok());  // the same log again
  Status origin = log->Claim("b.example/log", "a.example/log+01+KEY");
  EXPECT_EQ(origin.code(), Code::kFailedPrecondition);
  EXPECT_NE(origin.message().find("holds the log \"a.example/log\""), std::string::npos) << origin.ToString();
  Status key = log->Claim("a.example/log", "a.example/log+02+OTHER");
  EXPECT_EQ(key.code(), Code::kFailedPrecondition);
  EXPECT_NE(key.message().find("same node.key"), std::string::npos) << key.ToString();
}

TEST_F(PgLogTest, OutcomesGoToTheSubmitterOnlyOnceCommitted) {
  auto log = OpenLog();
  auto lease = OpenLease();
  ASSERT_TRUE(log && lease);
  auto a = Key(1);
  std::string reg = Registration(a), hs = HashSet(a, 1);
  ByteView leaves[] = {reg, hs};
  auto ids = log->Enqueue("proc-a", leaves);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_LT((*ids)[0], (*ids)[1]);
  auto waiting = log->Waiting(10);
  ASSERT_TRUE(waiting.ok());
  ASSERT_EQ(waiting->size(), 2u);
  EXPECT_EQ((*waiting)[0].leaf, reg);
  EXPECT_TRUE(log->TakeOutcomes("proc-a")->empty());  // nothing decided yet

  uint64_t epoch = *lease->Acquire("seq", 10s);
  std::vector<Record> records = {RecordOf(0, reg)};
  std::vector<Outcome> outcomes(2);
  outcomes[0].id = (*ids)[0];
  outcomes[0].index = 0;
  outcomes[1].id = (*ids)[1];
  outcomes[1].status = PermissionDenied("refused for the test");
  Status c = log->Commit(Fence{"sequencer", "seq", epoch}, records, Roots({reg}, 0), outcomes);
  ASSERT_TRUE(c.ok()) << c.ToString();
  EXPECT_EQ(*log->Size(), 1u);
  EXPECT_EQ(log->Entries(0, 10)->at(0), reg);
  EXPECT_TRUE(log->Waiting(10)->empty());
  EXPECT_TRUE(log->TakeOutcomes("proc-b")->empty());
  auto got = log->TakeOutcomes("proc-a");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  std::sort(got->begin(), got->end(), [](const Outcome& x, const Outcome& y) { return x.id < y.id; });
  EXPECT_TRUE((*got)[0].status.ok());
  EXPECT_EQ((*got)[0].index, 0u);
  EXPECT_EQ((*got)[1].status.code(), Code::kPermissionDenied);
  EXPECT_EQ((*got)[1].status.message(), "refused for the test");
  EXPECT_TRUE(log->TakeOutcomes("proc-a")->empty());  // taken once
}

TEST_F(PgLogTest, ASequencerThatLostItsLeaseMidBatchCommitsNothing) {
  auto log = OpenLog();
  auto old_lease = OpenLease(), new_lease = OpenLease();
  ASSERT_TRUE(log && old_lease && new_lease);
  auto a = Key(1);
  std::string reg = Registration(a);
  ByteView leaves[] = {reg};
  auto ids = log->Enqueue("proc-a", leaves);
  ASSERT_TRUE(ids.ok());
  uint64_t old_epoch = *old_lease->Acquire("old", 300ms);
  // The old sequencer validated its batch, then stalled past its lease; another took over.
  std::this_thread::sleep_for(400ms);
  auto new_epoch = new_lease->Acquire("new", 10s);
  ASSERT_TRUE(new_epoch.ok()) << new_epoch.status().ToString();
  std::vector<Outcome> outcomes(1);
  outcomes[0].id = (*ids)[0];
  Status stale =
      log->Commit(Fence{"sequencer", "old", old_epoch}, {RecordOf(0, reg)}, Roots({reg}, 0), outcomes);
  EXPECT_EQ(stale.code(), Code::kFailedPrecondition) << stale.ToString();
  EXPECT_NE(stale.message().find("nothing committed"), std::string::npos);
  EXPECT_EQ(*log->Size(), 0u);
  EXPECT_EQ(log->Waiting(10)->size(), 1u);  // still there for the new sequencer
  EXPECT_TRUE(log->TakeOutcomes("proc-a")->empty());

  // Expired but not taken is lost too: the holder must acquire again.
  auto lapsed = OpenLease();
  uint64_t e = *lapsed->Acquire("new", 200ms);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(log->Commit(Fence{"sequencer", "new", e}, {RecordOf(0, reg)}, Roots({reg}, 0), outcomes).code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(*log->Size(), 0u);
}

TEST_F(PgLogTest, CommitsOnlyWhatContinuesTheLog) {
  auto log = OpenLog();
  auto lease = OpenLease();
  ASSERT_TRUE(log && lease);
  auto a = Key(1);
  std::string reg = Registration(a), hs = HashSet(a, 1);
  uint64_t epoch = *lease->Acquire("seq", 10s);
  Fence f{"sequencer", "seq", epoch};
  EXPECT_EQ(log->Commit(f, {RecordOf(1, hs)}, Roots({reg, hs}, 1), {}).code(), Code::kFailedPrecondition);
  EXPECT_EQ(log->Commit(f, {RecordOf(0, reg)}, {}, {}).code(), Code::kInvalidArgument) << "no root";
  EXPECT_FALSE(log->HeadAfter(0, 10)->has_value());
  ASSERT_TRUE(log->Commit(f, {RecordOf(0, reg)}, Roots({reg}, 0), {}).ok());
  EXPECT_EQ(log->Commit(f, {RecordOf(0, hs)}, Roots({hs}, 0), {}).code(), Code::kFailedPrecondition);
  EXPECT_FALSE(log->Commit(f, {RecordOf(1, reg)}, Roots({reg, reg}, 1), {})
                   .ok());  // the same leaf twice: id is unique
  EXPECT_EQ(*log->Size(), 1u);
  EXPECT_TRUE(log->Entries(1, 10)->empty());
  // The head of each commit is recorded with it; a replica of size s checks the largest within
  // its next batch, else the next one.
  std::string hs2 = HashSet(a, 2), hs3 = HashSet(a, 3);
  ASSERT_TRUE(log->Commit(f, {RecordOf(1, hs), RecordOf(2, hs2)}, Roots({reg, hs, hs2}, 1), {}).ok());
  ASSERT_TRUE(log->Commit(f, {RecordOf(3, hs3)}, Roots({reg, hs, hs2, hs3}, 3), {}).ok());
  auto head = log->HeadAfter(0, 10);
  ASSERT_TRUE(head.ok() && head->has_value()) << head.status().ToString();
  EXPECT_EQ((*head)->size, 4u);
  EXPECT_EQ((*head)->root, RootOf({reg, hs, hs2, hs3}));
  EXPECT_EQ((*log->HeadAfter(0, 2))->size, 1u);
  EXPECT_EQ((*log->HeadAfter(1, 1))->size, 3u) << "none within the span: the next one";
  EXPECT_EQ((*log->HeadAfter(1, 2))->size, 3u);
  EXPECT_EQ((*log->HeadAfter(0, 3))->size, 3u) << "the span's end is in it";
  EXPECT_FALSE(log->HeadAfter(4, 10)->has_value());
  EXPECT_EQ((*log->HeadAtMost(2))->size, 1u);
  EXPECT_EQ((*log->HeadAtMost(3))->size, 3u);
  EXPECT_FALSE(log->HeadAtMost(0)->has_value());
  // A commit that continues another tree of 4 (its caller's replica holds other entries) is refused.
  std::string hs4 = HashSet(a, 4);
  Status other = log->Commit(f, {RecordOf(4, hs4)}, Roots({reg, hs2, hs, hs3, hs4}, 4), {});
  EXPECT_EQ(other.code(), Code::kDataLoss) << other.ToString();
  EXPECT_EQ(*log->Size(), 4u);
  // So is one after entries were lost while their heads were kept (a partial restore).
  auto admin = pg::Conn::Connect(testing::TestConninfo(), schema_);
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE(
      (*admin)->Run("lose", "DELETE FROM digests WHERE idx = 3; DELETE FROM statements WHERE idx = 3").ok());
  Status beyond = log->Commit(f, {RecordOf(3, hs4)}, Roots({reg, hs, hs2, hs4}, 3), {});
  EXPECT_EQ(beyond.code(), Code::kDataLoss) << beyond.ToString();
  EXPECT_NE(beyond.message().find("tree head of 4"), std::string::npos) << beyond.ToString();
}

TEST_F(PgLogTest, ABusySequencerKeepsItsLeaseByCommitting) {
  auto log = OpenLog();
  auto lease = OpenLease();
  ASSERT_TRUE(log && lease);
  uint64_t epoch = *lease->Acquire("seq", 2s);
  EXPECT_LE(lease->Current()->remaining_ms, 2000);
  Fence f{"sequencer", "seq", epoch, 30s};
  std::string reg = Registration(Key(1));
  ASSERT_TRUE(log->Commit(f, {RecordOf(0, reg)}, Roots({reg}, 0), {}).ok());
  EXPECT_GT(lease->Current()->remaining_ms, 20000);
  EXPECT_EQ(lease->Current()->epoch, epoch);
}

// Node processes sharing one log.
class PgClusterTest : public testing::PgTest {
 protected:
  void SetUp() override {
    testing::PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    base_ = std::filesystem::temp_directory_path() / ("accord-pg-cluster-" + schema_);
    std::filesystem::remove_all(base_);
  }
  void TearDown() override {
    nodes_.clear();
    std::filesystem::remove_all(base_);
    testing::PgTest::TearDown();
  }
  NodeOptions Options(const std::string& conninfo = "") {
    NodeOptions o;
    o.postgres = conninfo.empty() ? testing::TestConninfo() : conninfo;
    o.postgres_schema = schema_;
    o.lease_ttl = 1000ms;
    o.submit_timeout = 15s;
    return o;
  }
  // Process `i`, in its own directory; the first one creates the key, the others get a copy.
  Result<std::unique_ptr<Node>> Start(int i, const NodeOptions& o) {
    std::filesystem::path dir = base_ / ("p" + std::to_string(i));
    std::filesystem::path key = base_ / "p0" / "node.key";
    if (i != 0 && !std::filesystem::exists(dir / "node.key")) {
      std::filesystem::create_directories(dir);
      std::filesystem::copy_file(key, dir / "node.key");
    }
    return Node::Open(dir.string(), "test.example/log", o);
  }
  Node* StartOk(int i) {
    auto n = Start(i, Options());
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok()) return nullptr;
    nodes_.push_back(std::move(n).value());
    return nodes_.back().get();
  }
  // Waits until `n`'s published checkpoint covers `size` entries.
  static tlog::VerifiedCheckpoint WaitForSize(Node& n, uint64_t size) {
    for (int i = 0; i < 200 && n.checkpoint().checkpoint.size < size; ++i) std::this_thread::sleep_for(25ms);
    return n.checkpoint();
  }
  static Node* Sequencer(const std::vector<Node*>& nodes) {
    for (int i = 0; i < 200; ++i) {
      for (Node* n : nodes)
        if (n->counters().sequencer_epoch.load() != 0) return n;
      std::this_thread::sleep_for(25ms);
    }
    return nullptr;
  }
  // Takes the lease for `holder` behind the sequencer's back (as one would that saw it expire while
  // the sequencer was paused), for `seconds`; its new epoch.
  static Result<uint64_t> TakeLease(pg::Conn& c, const std::string& holder, int seconds) {
    ASSIGN_OR_RETURN(pg::Rows r,
                     c.Exec("take the lease",
                            "UPDATE leases SET holder = $1, epoch = epoch + 1, expires_at = "
                            "clock_timestamp() + $2::float8 * interval '1 second' RETURNING epoch",
                            pg::Params().Text(holder).Int64(seconds)));
    if (r.size() != 1) return Internal("no lease row");
    return uint64_t(r.Int(0, 0));
  }
  // PostgreSQL loses entries 2 and 3 of a log of 4 that two processes replicate, and a sequencer
  // (the test) commits others at their indices, recording their tree's heads as accord does:
  //   kBeyond     at 2, 3 and 4 (in two commits);
  //   kLastAgain  the same, but the one at 3 is the statement that was at 3 before (sent again);
  //   kSameSize   at 2 and 3 only (the one at 3 sent again), then lets the process sequence.
  // The process that held the lost entries must stop: never sign a tree of 5, never commit one.
  enum class Diverge { kBeyond, kLastAgain, kSameSize };
  void ExpectStopWhenPostgresNoLongerContinuesTheReplica(Diverge how) {
    Node* a = StartOk(0);
    ASSERT_TRUE(a);
    Node* b = StartOk(1);
    ASSERT_TRUE(b);
    auto alice = Key(1);
    ASSERT_TRUE(a->Submit(Registration(alice)).ok());
    for (int i = 1; i < 4; ++i) ASSERT_TRUE(b->Submit(HashSet(alice, i)).ok());
    ASSERT_EQ(WaitForSize(*a, 4).checkpoint.size, 4u);
    ASSERT_EQ(WaitForSize(*b, 4).checkpoint.size, 4u);
    // Keep the process that does not sequence; the test takes the lease for itself.
    Node* seq = Sequencer({a, b});
    ASSERT_TRUE(seq);
    Node* kept = seq == a ? b : a;
    auto admin = pg::Conn::Connect(testing::TestConninfo(), schema_);
    ASSERT_TRUE(admin.ok());
    auto taken = TakeLease(**admin, "test", 30);
    ASSERT_TRUE(taken.ok()) << taken.status().ToString();
    Fence fence{"sequencer", "test", *taken};
    std::erase_if(nodes_, [&](const std::unique_ptr<Node>& n) { return n.get() == seq; });
    for (const char* sql : {"DELETE FROM digests WHERE idx >= 2", "DELETE FROM statements WHERE idx >= 2",
                            "DELETE FROM tree_heads WHERE size > 2"})
      ASSERT_TRUE((*admin)->Run("lose", sql).ok()) << sql;
    PgLogOptions lo;
    lo.conninfo = testing::TestConninfo();
    lo.schema = schema_;
    auto log = PgLog::Open(lo);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    auto kept_leaves = (*log)->Entries(0, 2);
    ASSERT_TRUE(kept_leaves.ok() && kept_leaves->size() == 2u);
    std::vector<std::string> leaves = *kept_leaves;
    leaves.push_back(HashSet(alice, 102));
    leaves.push_back(HashSet(alice, how == Diverge::kBeyond ? 103 : 3));
    Status c = (*log)->Commit(fence, {RecordOf(2, leaves[2]), RecordOf(3, leaves[3])}, Roots(leaves, 2), {});
    ASSERT_TRUE(c.ok()) << c.ToString();
    if (how != Diverge::kSameSize) {
      leaves.push_back(HashSet(alice, 104));
      c = (*log)->Commit(fence, {RecordOf(4, leaves[4])}, Roots(leaves, 4), {});
      ASSERT_TRUE(c.ok()) << c.ToString();
      // The kept process sees entries from 4 on and stops: it never signs a tree of 5.
      for (int i = 0; i < 100 && kept->checkpoint().checkpoint.size < 5; ++i)
        std::this_thread::sleep_for(50ms);
    } else {
      // A statement waits; the kept process takes the lease (nothing beyond its size to check),
      // and its commit, which continues its own tree of 4, is refused: it stops and lets go.
      const std::string statement = HashSet(alice, 5);
      ByteView waiting[] = {statement};
      ASSERT_TRUE((*log)->Enqueue("test", waiting).ok());
      ASSERT_TRUE(
          (*admin)->Run("release", "UPDATE leases SET holder = '', expires_at = clock_timestamp()").ok());
      for (int i = 0; i < 200; ++i) {
        auto l = (*admin)->Exec("lease", "SELECT epoch, holder FROM leases");
        ASSERT_TRUE(l.ok());
        if ((uint64_t(l->Int(0, 0)) > fence.epoch && l->Bytes(0, 1).empty()) || *(*log)->Size() > 4) break;
        std::this_thread::sleep_for(50ms);
      }
      EXPECT_EQ(*(*log)->Size(), 4u);
      EXPECT_FALSE((*log)->HeadAfter(4, 10)->has_value());
      auto l = (*admin)->Exec("lease", "SELECT holder FROM leases");
      ASSERT_TRUE(l.ok());
      EXPECT_EQ(l->Bytes(0, 0), "") << "a process that stops lets go of the lease";
    }
    EXPECT_EQ(kept->checkpoint().checkpoint.size, 4u);
    Result<Accepted> answer = kept->Submit(HashSet(alice, 200));  // a stopped node answers at once
    EXPECT_EQ(answer.status().code(), Code::kUnavailable) << answer.status().ToString();
    EXPECT_NE(answer.status().message().find("is not PostgreSQL's"), std::string::npos)
        << answer.status().ToString();
    if (how == Diverge::kSameSize) {
      // Started again, it is refused at once (its tree against PostgreSQL's heads).
      const int i = kept == a ? 0 : 1;
      std::erase_if(nodes_, [&](const std::unique_ptr<Node>& n) { return n.get() == kept; });
      auto again = Start(i, Options());
      EXPECT_EQ(again.status().code(), Code::kDataLoss) << again.status().ToString();
    }
  }
  std::filesystem::path base_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(PgClusterTest, TwoProcessesServeOneLogWithIdenticalCheckpoints) {
  Node* a = StartOk(0);
  ASSERT_TRUE(a);
  Node* b = StartOk(1);
  ASSERT_TRUE(b);
  auto alice = Key(1), bob = Key(2);
  auto r = b->Submit(Registration(alice));  // through whichever is not sequencing, or is
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->index, 0u);
  auto h = a->Submit(HashSet(alice, 1));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->index, 1u);
  // The answers of the single-process node, from either process.
  auto dup = b->Submit(HashSet(alice, 1));
  ASSERT_TRUE(dup.ok()) << dup.status().ToString();
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->index, 1u);
  EXPECT_EQ(a->Submit(HashSet(bob, 2)).status().code(), Code::kPermissionDenied);  // not registered
  EXPECT_EQ(b->Submit(Registration(alice, "Again")).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(a->Submit(Retraction(alice, 99)).status().code(), Code::kNotFound);
  EXPECT_EQ(b->Submit("{not json").status().code(), Code::kInvalidArgument);

  // A batch through each, at once: every statement gets its own index, none twice.
  std::vector<std::string> batch_a, batch_b;
  for (int i = 0; i < 40; ++i) (i % 2 ? batch_a : batch_b).push_back(HashSet(alice, 100 + i));
  std::vector<ByteView> va(batch_a.begin(), batch_a.end()), vb(batch_b.begin(), batch_b.end());
  std::vector<Result<Accepted>> ra, rb;
  std::thread ta([&] { ra = a->SubmitMany(va); });
  std::thread tb([&] { rb = b->SubmitMany(vb); });
  ta.join();
  tb.join();
  std::set<uint64_t> indices;
  for (auto* results : {&ra, &rb})
    for (const auto& x : *results) {
      ASSERT_TRUE(x.ok()) << x.status().ToString();
      indices.insert(x->index);
    }
  EXPECT_EQ(indices.size(), 40u);
  EXPECT_EQ(*indices.begin(), 2u);
  EXPECT_EQ(*indices.rbegin(), 41u);

  auto ca = WaitForSize(*a, 42), cb = WaitForSize(*b, 42);
  EXPECT_EQ(ca.checkpoint.size, 42u);
  EXPECT_EQ(ca.raw, cb.raw);  // the same key, the same tree: the same signed bytes
  auto got = b->store().Get(1);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->leaf, HashSet(alice, 1));
  EXPECT_EQ(a->counters().sequencer_epoch.load() != 0, b->counters().sequencer_epoch.load() == 0);
}

// A server (or database, or role) whose default isolation is serializable or repeatable read: accord's
// transactions are written for read committed and must not fail with serialization errors there.
TEST_F(PgClusterTest, ServesOneLogWhateverTheServersDefaultIsolation) {
  const std::string conninfo =
      testing::TestConninfo() + " options='-c default_transaction_isolation=repeatable\\\\ read'";
  std::vector<Node*> n;
  for (int i = 0; i < 2; ++i) {
    auto started = Start(i, Options(conninfo));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    nodes_.push_back(std::move(started).value());
    n.push_back(nodes_.back().get());
  }
  auto alice = Key(1);
  ASSERT_TRUE(n[1]->Submit(Registration(alice)).ok());
  // Singles and batches through both processes at once, as clients send them.
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  std::vector<std::vector<Result<Accepted>>> results(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      Node* via = n[t % 2];
      if (t < 4) {
        for (int i = 0; i < kEach; ++i) results[t].push_back(via->Submit(HashSet(alice, 1000 * t + i)));
      } else {
        std::vector<std::string> batch;
        for (int i = 0; i < kEach; ++i) batch.push_back(HashSet(alice, 1000 * t + i));
        std::vector<ByteView> views(batch.begin(), batch.end());
        results[t] = via->SubmitMany(views);
      }
    });
  for (auto& t : threads) t.join();
  std::set<uint64_t> indices;
  for (const auto& r : results)
    for (const auto& x : r) {
      ASSERT_TRUE(x.ok()) << x.status().ToString();
      indices.insert(x->index);
    }
  ASSERT_EQ(indices.size(), size_t(kThreads * kEach));
  EXPECT_EQ(*indices.rbegin(), uint64_t(kThreads * kEach));
  auto a = WaitForSize(*n[0], kThreads * kEach + 1), b = WaitForSize(*n[1], kThreads * kEach + 1);
  EXPECT_EQ(a.checkpoint.size, uint64_t(kThreads * kEach + 1));
  EXPECT_EQ(a.raw, b.raw);
  // The lookups the index answers, from the process that did not sequence as well.
  auto got = n[0]->store().Get(kThreads * kEach);
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
}

TEST_F(PgClusterTest, AnotherProcessTakesOverAndKeepsEverythingAcknowledged) {
  Node* a = StartOk(0);
  ASSERT_TRUE(a);
  Node* b = StartOk(1);
  ASSERT_TRUE(b);
  auto alice = Key(1);
  ASSERT_TRUE(a->Submit(Registration(alice)).ok());
  Node* seq = Sequencer({a, b});
  ASSERT_TRUE(seq);
  Node* other = seq == a ? b : a;
  uint64_t old_epoch = seq->counters().sequencer_epoch.load();
  ASSERT_TRUE(seq->Submit(HashSet(alice, 1)).ok());
  // The sequencer goes away; statements keep coming through the other process.
  std::thread stop([&] {
    for (auto& n : nodes_)
      if (n.get() == seq) n.reset();
  });
  std::vector<uint64_t> got;
  for (int i = 2; i < 12; ++i) {
    auto r = other->Submit(HashSet(alice, i));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    got.push_back(r->index);
  }
  stop.join();
  EXPECT_GT(other->counters().sequencer_epoch.load(), old_epoch);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], i + 2);
  EXPECT_EQ(WaitForSize(*other, 12).checkpoint.size, 12u);

  // The process comes back, with its replica, and catches up.
  int which = seq == a ? 0 : 1;
  Node* back = StartOk(which);
  ASSERT_TRUE(back);
  EXPECT_EQ(WaitForSize(*back, 12).raw, other->checkpoint().raw);
}

TEST_F(PgClusterTest, ASequencerWhoseLeaseIsTakenCommitsNothingUntilItHoldsItAgain) {
  Node* a = StartOk(0);
  ASSERT_TRUE(a);
  auto alice = Key(1);
  ASSERT_TRUE(a->Submit(Registration(alice)).ok());
  ASSERT_EQ(Sequencer({a}), a);
  // Another holder takes the lease behind the sequencer's back (as one would that saw it expire
  // while the sequencer was paused), for 2 s.
  auto thief = pg::Conn::Connect(testing::TestConninfo(), schema_);
  ASSERT_TRUE(thief.ok());
  auto taken = TakeLease(**thief, "thief", 2);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  uint64_t thief_epoch = *taken;
  Result<Accepted> answer = Unavailable("not answered");
  std::thread submit([&] { answer = a->Submit(HashSet(alice, 1)); });
  std::this_thread::sleep_for(1s);
  auto size = (*thief)->Exec("size", "SELECT count(*) FROM statements");
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->Int(0, 0), 1);  // nothing committed under a lease the node no longer holds
  submit.join();                  // answered once the thief's lease expired and the node took it
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->index, 1u);
  EXPECT_GT(a->counters().sequencer_epoch.load(), thief_epoch);
}

// A log whose first entries were committed before schema version 4 has no tree heads for them: a
// new process still replicates them (checking the last entry), and what follows is checked by its
// heads.
TEST_F(PgClusterTest, EntriesCommittedWithoutTreeHeadsAreReplicated) {
  Node* a = StartOk(0);
  ASSERT_TRUE(a);
  auto alice = Key(1);
  ASSERT_TRUE(a->Submit(Registration(alice)).ok());
  for (int i = 1; i < 3; ++i) ASSERT_TRUE(a->Submit(HashSet(alice, i)).ok());
  auto admin = pg::Conn::Connect(testing::TestConninfo(), schema_);
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->Run("version 3 had none", "DELETE FROM tree_heads").ok());
  Node* b = StartOk(1);
  ASSERT_TRUE(b);
  EXPECT_EQ(WaitForSize(*b, 3).raw, WaitForSize(*a, 3).raw);
  ASSERT_TRUE(b->Submit(HashSet(alice, 3)).ok());
  EXPECT_EQ(WaitForSize(*b, 4).raw, WaitForSize(*a, 4).raw);
  EXPECT_EQ(a->checkpoint().checkpoint.size, 4u);
  auto more = a->Submit(HashSet(alice, 4));  // neither process stopped
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_EQ(WaitForSize(*b, 5).raw, WaitForSize(*a, 5).raw);
}

TEST_F(PgClusterTest, RefusesAReplicaOfAnotherLog) {
  Node* a = StartOk(0);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Submit(Registration(Key(1))).ok());
  nodes_.clear();
  // Another key for process 1: another log's signer.
  std::filesystem::remove_all(base_ / "p1");
  auto other = Node::Open((base_ / "p1").string(), "test.example/log", Options());
  EXPECT_EQ(other.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("same node.key"), std::string::npos) << other.status().ToString();
}

// PostgreSQL lost committed entries (a failover to a standby that lagged, a restore) and holds
// others at their indices: a running process whose replica holds the lost ones must stop, not append
// the new entries onto them (the shared key would sign two trees of one log). With
// `resubmit_last`, the statement that was last in the replica is committed again at its old index
// (its author sent it again), so only the entries before it differ.
TEST_F(PgClusterTest, AProcessWhoseReplicaThePostgresLogNoLongerContinuesStops) {
  ExpectStopWhenPostgresNoLongerContinuesTheReplica(Diverge::kBeyond);
}

TEST_F(PgClusterTest, AProcessStopsEvenIfItsLastEntryIsPostgresAgain) {
  ExpectStopWhenPostgresNoLongerContinuesTheReplica(Diverge::kLastAgain);
}

TEST_F(PgClusterTest, AProcessWhoseReplicaDiffersAtTheSameSizeCommitsNothing) {
  ExpectStopWhenPostgresNoLongerContinuesTheReplica(Diverge::kSameSize);
}

// The database goes away (it refuses connections and drops those it had) and comes back.
TEST_F(PgClusterTest, ADatabaseOutageIsAnsweredUnavailableThenHeals) {
  std::string db = schema_ + "_db";
  auto admin = pg::Conn::Connect(testing::TestConninfo(), "public");
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto run = [&](const std::string& sql) {
    Status s = (*admin)->Run("test", sql.c_str());
    EXPECT_TRUE(s.ok()) << sql << ": " << s.ToString();
  };
  run("CREATE DATABASE " + db);
  std::string conninfo = testing::TestConninfo() + " dbname=" + db;
  {
    auto n = Start(0, Options(conninfo));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    auto alice = Key(1);
    ASSERT_TRUE((*n)->Submit(Registration(alice)).ok());

    run("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
    run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db + "'");
    auto down = (*n)->Submit(HashSet(alice, 1));
    EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
    EXPECT_NE(down.status().message().find("PostgreSQL"), std::string::npos) << down.status().ToString();
    auto lookup = (*n)->store().Get(0);
    EXPECT_EQ(lookup.status().code(), Code::kUnavailable);

    run("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
    Result<Accepted> healed = Unavailable("not tried");
    for (int i = 0; i < 50 && !healed.ok(); ++i) {
      healed = (*n)->Submit(HashSet(alice, 1));
      if (!healed.ok()) std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(healed.ok()) << healed.status().ToString();
    EXPECT_EQ(healed->index, 1u);
    EXPECT_EQ(WaitForSize(**n, 2).checkpoint.size, 2u);
  }
  run("DROP DATABASE " + db + " WITH (FORCE)");
}

}  // namespace
}  // namespace accord::node
