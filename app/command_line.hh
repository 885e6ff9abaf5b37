#pragma once
// The collector's command line (CLI11): --config, --set, --print-config, --check-config,
// --write-default-config, --version, the sign-url subcommand, and otherwise run_collector.

#include <string>

namespace pixelring {

// Parses argv, does what it asks and returns the process exit code: 0 done, 1 start-up
// failed, 2 a configuration or usage error (the reason is on stderr). version and
// build_profile (", profile-guided" or "") are printed by --version.
int run_command_line(int argc, char** argv, const std::string& version, const char* build_profile);

} // namespace pixelring
