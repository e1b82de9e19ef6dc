// Test helper for tests/jcs_interop_test.sh: reads one JSON document per line on standard input
// and prints its RFC 8785 form (or "ERROR <message>") per line.
#include <iostream>
#include <string>

#include "core/canonical_json.h"

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    auto v = accord::json::Parse(line);
    if (!v.ok()) {
      std::cout << "ERROR " << v.status().ToString() << "\n";
      continue;
    }
    auto s = accord::json::Serialize(*v);
    std::cout << (s.ok() ? *s : "ERROR " + s.status().ToString()) << "\n";
  }
  return 0;
}
