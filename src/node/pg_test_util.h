// Helpers for the tests that need PostgreSQL (not part of any library): the test server's
// connection string and a fresh schema per test, so tests run in parallel and again.
//
// scripts/test.sh starts a throwaway server (scripts/pg-test-server.sh), exports its conninfo as
// ACCORD_TEST_PG and sets ACCORD_REQUIRE_PG=1: without a server these tests then fail. Run by
// hand without ACCORD_TEST_PG they are skipped, saying how to run them:
//   eval "$(scripts/pg-test-server.sh start)"; ctest --test-dir build -R pg
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>

#include "node/pg.h"

namespace accord::node::testing {

// The test server's connection string, or "" if none is given.
inline std::string TestConninfo() {
  const char* c = std::getenv("ACCORD_TEST_PG");
  return c ? c : "";
}

inline bool PostgresRequired() {
  const char* r = std::getenv("ACCORD_REQUIRE_PG");
  return r && std::string(r) == "1";
}

// In a test or SetUp: skips it (fails it under ACCORD_REQUIRE_PG=1) when no server is given.
#define ACCORD_NEEDS_TEST_PG()                                                                      \
  do {                                                                                              \
    if (::accord::node::testing::TestConninfo().empty()) {                                          \
      if (::accord::node::testing::PostgresRequired())                                              \
        FAIL() << "ACCORD_TEST_PG is not set, and ACCORD_REQUIRE_PG=1 requires PostgreSQL";         \
      GTEST_SKIP() << "no PostgreSQL: set ACCORD_TEST_PG, e.g. eval \"$(scripts/pg-test-server.sh " \
                      "start)\"";                                                                   \
    }                                                                                               \
  } while (0)

// A schema name no other test, process or run uses.
inline std::string FreshSchema() {
  static std::atomic<int> n{0};
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return "t" + std::to_string(::getpid()) + "_" + std::to_string(n++) + "_" + std::to_string(us % 100000000);
}

// Drops `schema` and everything in it (a test's clean-up; failures are reported, not fatal).
inline void DropSchema(const std::string& schema) {
  ASSERT_TRUE(pg::ValidSchemaName(schema)) << schema;
  auto c = pg::Conn::Connect(TestConninfo(), "public");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const std::string sql = "DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE";
  Status s = (*c)->Run("drop the test schema", sql.c_str());
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// A test with a fresh schema of its own on the test server, dropped after it.
class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ACCORD_NEEDS_TEST_PG();
    schema_ = FreshSchema();
  }
  void TearDown() override {
    if (!schema_.empty()) DropSchema(schema_);
  }
  std::string schema_;
};

}  // namespace accord::node::testing
