// `accord serve` (the exchange node) and `accord submit` (a participant's client): argument
// parsing and output only; the work is in src/node (docs/node.md).
#pragma once

#include <CLI/CLI.hpp>

namespace accord::cli {

// Registers the subcommands; each sets `rc` (0 OK, 1 refused by the node, 2 error) when it runs.
void AddNodeCommands(CLI::App& app, int& rc);

}  // namespace accord::cli
