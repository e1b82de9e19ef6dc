#include "node/libpq.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

namespace accord::node::pg {
namespace {

bool Loaded() {
  void* h = dlopen(kLibPqName, RTLD_NOW | RTLD_NOLOAD);
  if (h) dlclose(h);
  return h != nullptr;
}

// This test program links accord_node and not libpq (CMakeLists.txt), as the accord program does:
// libpq is in the process only once something asks for it.
TEST(LibPqTest, LoadedOnlyWhenAskedAndOnce) {
  ASSERT_FALSE(Loaded()) << kLibPqName << " was loaded at start: something links it";
  Result<const LibPq*> first = LibPq::Load();
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(Loaded());
  Result<const LibPq*> second = LibPq::Load();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first.value(), second.value());
  EXPECT_EQ(&LibPq::Get(), first.value());
  // The functions are libpq's: documented answers for a null connection and result.
  EXPECT_EQ(LibPq::Get().status(nullptr), CONNECTION_BAD);
  EXPECT_EQ(LibPq::Get().ntuples(nullptr), 0);
  EXPECT_EQ(LibPq::Get().resultStatus(nullptr), PGRES_FATAL_ERROR);
  EXPECT_EQ(LibPq::Get().socket(nullptr), -1);
}

}  // namespace
}  // namespace accord::node::pg
