#include "node/libpq.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

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

// The accord program itself does not need libpq to start: the dynamic loader's list of what it
// loads with it (LD_TRACE_LOADED_OBJECTS, as ldd) names no libpq.
TEST(LibPqTest, TheProgramDoesNotLinkIt) {
  const char* bin = std::getenv("ACCORD_BIN");
  if (!bin) GTEST_SKIP() << "ACCORD_BIN not set (ctest sets it)";
  std::string command = std::string("LD_TRACE_LOADED_OBJECTS=1 '") + bin + "'";
  FILE* p = ::popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0);
  EXPECT_NE(out.find("libc.so"), std::string::npos) << out;  // the list is there
  EXPECT_EQ(out.find("libpq"), std::string::npos) << out;
}

}  // namespace
}  // namespace accord::node::pg
