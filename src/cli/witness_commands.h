// `accord witness serve` (a c2sp.org/tlog-witness service) and `accord witness key-info` (the
// policy line of a witness key): argument parsing and output only; the work is in src/witness
// (docs/witness.md).
#pragma once

#include <CLI/CLI.hpp>

namespace accord::cli {

// Registers the subcommands; each sets `rc` (0 OK, 1 failed, 2 usage) when it runs.
void AddWitnessCommands(CLI::App& app, int& rc);

}  // namespace accord::cli
