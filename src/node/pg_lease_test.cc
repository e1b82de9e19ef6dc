// The sequencer's lease on a real PostgreSQL server (pg_test_util.h): one holder at a time,
// epochs that only grow, expiry that takes the lease away, and races between connections.
#include "node/pg_lease.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <future>
#include <thread>

#include "node/pg.h"
#include "node/pg_test_util.h"

namespace accord::node {
namespace {

using namespace std::chrono_literals;

PgLeaseOptions Options(const std::string& conninfo, const std::string& schema, const std::string& name) {
  PgLeaseOptions o;
  o.conninfo = conninfo;
  o.schema = schema;
  o.name = name;
  return o;
}

class PgLeaseTest : public testing::PgTest {
 protected:
  // A connection of its own, as another process would have.
  std::unique_ptr<PgLease> Connect(const std::string& name = "sequencer") {
    auto l = PgLease::Open(Options(testing::TestConninfo(), schema_, name));
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? std::move(l).value() : nullptr;
  }
};

TEST_F(PgLeaseTest, OneHolderAtATime) {
  auto a = Connect(), b = Connect();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->Current()->epoch, 0u);
  EXPECT_EQ(b->Current()->holder, "");
  auto got = a->Acquire("node-a", 10s);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, 1u);
  auto refused = b->Acquire("node-b", 10s);
  ASSERT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("held by \"node-a\" (epoch 1)"), std::string::npos)
      << refused.status().ToString();
  LeaseInfo now = *b->Current();
  EXPECT_EQ(now.holder, "node-a");
  EXPECT_EQ(now.epoch, 1u);
  EXPECT_GT(now.remaining_ms, 5000);
  EXPECT_LE(now.remaining_ms, 10000);
}

TEST_F(PgLeaseTest, OnlyTheHolderAtItsEpochRenews) {
  auto a = Connect(), b = Connect();
  ASSERT_TRUE(a && b);
  uint64_t epoch = *a->Acquire("node-a", 5s);  // a stall under load must not end it before the renewal
  EXPECT_TRUE(a->Renew("node-a", epoch, 20s).ok());
  EXPECT_GT(b->Current()->remaining_ms, 10000);
  EXPECT_EQ(b->Renew("node-b", epoch, 20s).code(), Code::kFailedPrecondition);
  EXPECT_EQ(a->Renew("node-a", epoch + 1, 20s).code(), Code::kFailedPrecondition);
  EXPECT_EQ(b->Current()->holder, "node-a");
}

// A holder that stops in the middle of its commit (SIGSTOP, a paused VM, a network cut) holds the
// lease row's lock: another process's Acquire does not wait on it for ever (lock timeout), and the
// server ends the stuck session (idle-in-transaction timeout), so the lease is taken over.
TEST_F(PgLeaseTest, AHolderStuckInATransactionDoesNotStopATakeover) {
  auto a = Connect(), b = Connect();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Acquire("node-a", 300ms).ok());
  auto stuck = pg::Conn::Connect(testing::TestConninfo(), schema_);
  ASSERT_TRUE(stuck.ok()) << stuck.status().ToString();
  ASSERT_TRUE((*stuck)->Exec("begin", "BEGIN").ok());
  ASSERT_TRUE(
      (*stuck)->Exec("lock", "UPDATE leases SET expires_at = expires_at WHERE name = 'sequencer'").ok());
  std::this_thread::sleep_for(400ms);  // node-a's lease has expired; its row is still locked
  auto first = std::async(std::launch::async, [&] { return b->Acquire("node-b", 10s); });
  bool answered =
      first.wait_for(std::chrono::milliseconds(4 * pg::kLeaseLockTimeoutMs)) == std::future_status::ready;
  EXPECT_TRUE(answered) << "Acquire waited on a lock held by a stuck transaction";
  if (!answered) (void)(*stuck)->Exec("rollback", "ROLLBACK");  // let it finish, to end the test
  Result<uint64_t> r = first.get();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(3 * pg::kIdleInTransactionMs);
  while (!r.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    r = b->Acquire("node-b", 10s);
  }
  EXPECT_TRUE(r.ok()) << "not taken over: " << r.status().ToString();
  EXPECT_EQ(b->Current()->holder, "node-b");
}

// The lock timeout is the lease operations'; opening waits for the schema as long as another process
// holds it (starting or upgrading), as the log's and the index's connections do.
TEST_F(PgLeaseTest, OpeningWaitsForTheSchemaAsLongAsAnotherProcessHoldsIt) {
  ASSERT_TRUE(Connect());  // the schema exists
  auto other = pg::Conn::Connect(testing::TestConninfo(), schema_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_TRUE((*other)->Run("begin", "BEGIN").ok());
  ASSERT_TRUE((*other)
                  ->Exec("hold the schema lock", "SELECT pg_advisory_xact_lock($1)",
                         pg::Params().Int64(0x6163636f7264))  // pg.cc's kSchemaLock
                  .ok());
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(3 * pg::kLeaseLockTimeoutMs));
    (void)(*other)->Run("commit", "COMMIT");
  });
  auto l = PgLease::Open(Options(testing::TestConninfo(), schema_, "sequencer"));
  release.join();
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_TRUE((*l)->Acquire("node-a", 10s).ok());
}

TEST_F(PgLeaseTest, AHolderWhoseLeaseExpiredHasLostIt) {
  auto a = Connect(), b = Connect();
  ASSERT_TRUE(a && b);
  uint64_t first = *a->Acquire("node-a", 100ms);
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(b->Current()->holder, "");
  // Nobody took it, and still: the holder may not carry on as if it had never lapsed.
  EXPECT_EQ(a->Renew("node-a", first, 10s).code(), Code::kFailedPrecondition);
  auto taken = b->Acquire("node-b", 10s);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(*taken, first + 1);
  EXPECT_EQ(a->Renew("node-a", first, 10s).code(), Code::kFailedPrecondition);
  EXPECT_EQ(a->Acquire("node-a", 10s).status().code(), Code::kFailedPrecondition);
}

TEST_F(PgLeaseTest, ReleaseHandsItOverAtOnce) {
  auto a = Connect(), b = Connect();
  ASSERT_TRUE(a && b);
  uint64_t ea = *a->Acquire("node-a", 60s);
  EXPECT_TRUE(a->Release("node-a", ea).ok());
  EXPECT_EQ(b->Current()->holder, "");
  uint64_t eb = *b->Acquire("node-b", 60s);
  EXPECT_EQ(eb, ea + 1);
  EXPECT_TRUE(a->Release("node-a", ea).ok());  // no longer its to give: nothing changes
  EXPECT_EQ(b->Current()->holder, "node-b");
  EXPECT_TRUE(b->Renew("node-b", eb, 60s).ok());
}

TEST_F(PgLeaseTest, EpochsOnlyGrow) {
  auto a = Connect(), b = Connect();
  ASSERT_TRUE(a && b);
  uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    PgLease& l = i % 3 ? *a : *b;
    std::string holder = i % 2 ? "node-a" : "node-b";
    auto e = l.Acquire(holder, 60s);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_GT(*e, last);
    // A holder that acquires again (a restarted process with the same name) fences off the
    // incarnation before it too.
    auto again = l.Acquire(holder, 60s);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(*again, *e + 1);
    EXPECT_EQ(l.Renew(holder, *e, 60s).code(), Code::kFailedPrecondition);
    last = *again;
    ASSERT_TRUE(l.Release(holder, last).ok());
  }
}

TEST_F(PgLeaseTest, LeasesOfDifferentNamesAreIndependent) {
  auto seq = Connect("sequencer"), other = Connect("checkpointer");
  ASSERT_TRUE(seq && other);
  EXPECT_EQ(*seq->Acquire("node-a", 60s), 1u);
  EXPECT_EQ(*other->Acquire("node-b", 60s), 1u);
}

// Connections that race for a new (then a released) lease: exactly one wins each round.
TEST_F(PgLeaseTest, RacingConnectionsGetExactlyOneHolder) {
  constexpr int kRacers = 4, kRounds = 15;
  std::vector<std::unique_ptr<PgLease>> conns;
  for (int i = 0; i < kRacers; ++i) conns.push_back(Connect());
  for (auto& c : conns) ASSERT_TRUE(c);
  std::atomic<int> winners{0}, errors{0};
  std::vector<uint64_t> epochs(kRacers);
  std::barrier start(kRacers);
  std::vector<std::thread> threads;
  uint64_t last = 0;
  for (int round = 0; round < kRounds; ++round) {
    winners = 0;
    threads.clear();
    for (int i = 0; i < kRacers; ++i)
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        auto e = conns[i]->Acquire("racer-" + std::to_string(i), 60s);
        if (e.ok()) {
          winners++;
          epochs[i] = *e;
        } else if (e.status().code() != Code::kFailedPrecondition) {
          errors++;
        }
      });
    for (auto& t : threads) t.join();
    ASSERT_EQ(winners.load(), 1) << "round " << round;
    LeaseInfo now = *conns[0]->Current();
    EXPECT_EQ(now.epoch, last + 1);
    EXPECT_EQ(epochs[std::stoi(now.holder.substr(6))], now.epoch) << now.holder;
    last = now.epoch;
    ASSERT_TRUE(conns[0]->Release(now.holder, now.epoch).ok());  // any connection may, for the holder
  }
  EXPECT_EQ(errors.load(), 0);
}

TEST(PgLease, RefusesBadArguments) {
  EXPECT_EQ(PgLease::Open(Options("host=/nonexistent", "Bad", "sequencer")).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(PgLease::Open(Options("host=/nonexistent", "accord", "")).status().code(),
            Code::kInvalidArgument);
}

TEST_F(PgLeaseTest, RefusesBadHoldersAndDurations) {
  auto a = Connect();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->Acquire("", 1s).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(a->Acquire(std::string("a\0b", 3), 1s).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(a->Acquire(std::string(300, 'a'), 1s).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(a->Acquire("node-a", 0ms).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(a->Renew("node-a", 1, -1ms).code(), Code::kInvalidArgument);
  EXPECT_EQ(a->Current()->epoch, 0u);
}

}  // namespace
}  // namespace accord::node
