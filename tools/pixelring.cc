// pixelring: the collector. Its command line and everything it runs are in app/.

#include "app/command_line.hh"

namespace {

// How the binary was optimised (cmake/pixelring_pgo.cmake), after the malloc in --version.
#if defined(PIXELRING_PGO_USE)
constexpr const char* build_profile = ", profile-guided";
#elif defined(PIXELRING_PGO_GENERATE)
constexpr const char* build_profile = ", instrumented for profiling: slow, not for production";
#else
constexpr const char* build_profile = "";
#endif

} // namespace

int main(int argc, char** argv) {
    return pixelring::run_command_line(argc, argv, PIXELRING_VERSION, build_profile);
}
