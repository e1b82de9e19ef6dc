// Loading the signatures a scanner runs with: compiled databases (FILE.accdb), ClamAV hash files and
// YARA rule files given directly, as `accord scan` and `accord scand` take them (-d, --hashes, --yara).
//
// Thread-safety: LoadSignatures is a pure function of the files it reads; call it from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "scan/database.h"
#include "scan/yara_rules.h"

namespace accord::scan {

struct SignatureFiles {
  std::vector<std::string> databases;   // -d: files from `accord db build`
  std::vector<std::string> hash_files;  // --hashes: .hdb/.hsb/.fp/.sfp, built in memory
  std::vector<std::string> yara;        // --yara: rule files or directories, compiled
  std::vector<std::string> tlsh_files;  // --tlsh: .tlsh signature files, built in memory
};

struct LoadedSignatures {
  std::vector<std::shared_ptr<const Database>> databases;
  std::vector<std::shared_ptr<const YaraRules>> rules;
};

// Opens every database (and loads the YARA rules compiled into it), builds the hash files into one
// in-memory database and compiles the rule files. Errors name the file; InvalidArgument if there is
// nothing at all to scan with.
[[nodiscard]] Result<LoadedSignatures> LoadSignatures(const SignatureFiles& files);

}  // namespace accord::scan
