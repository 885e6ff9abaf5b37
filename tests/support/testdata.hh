#pragma once
// The shared test data (GeoIP test databases, User-Agent corpora) in ../shared/testdata, next to
// the checkout; the tests run from the source root, so the relative path finds it. A test that
// reads it starts with REQUIRE_TESTDATA("geoip") (a folder or file under testdata_dir()): when
// it is missing, that test is skipped with the reason, the other tests of the executable run,
// and the executable exits with 77 (CTest's SKIP_RETURN_CODE) unless a test failed. Test code
// only.

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace pixelring::test {

// The shared test data folder, relative to the working directory, with a trailing '/'.
inline const std::string& testdata_dir() {
    static const std::string dir = "../shared/testdata/";
    return dir;
}

// path under testdata_dir().
inline std::string testdata_path(std::string_view path) {
    return testdata_dir() + std::string(path);
}

namespace detail {

// At the end of the program (after GoogleTest printed its summary), exits with 77 when the
// test data was missing and no test failed.
class testdata_exit_listener : public ::testing::EmptyTestEventListener {
    void OnTestProgramEnd(const ::testing::UnitTest& unit_test) override {
        if (!unit_test.Passed()) return;
        std::printf("SKIP: %d test(s) skipped: the test data they read under %s is missing "
                    "(paths are relative to the working directory, the source root under CTest); "
                    "exit code 77\n",
                    unit_test.skipped_test_count(), testdata_dir().c_str());
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(77);
    }
};

inline void record_missing_testdata() {
    static const bool registered = [] {
        ::testing::UnitTest::GetInstance()->listeners().Append(new testdata_exit_listener);
        return true;
    }();
    (void)registered;
}

} // namespace detail

// True when path (under testdata_dir()) exists; otherwise records the miss, so that the
// executable exits with 77, and returns false.
inline bool have_testdata(std::string_view path) {
    struct stat st {};
    if (::stat(testdata_path(path).c_str(), &st) == 0) return true;
    detail::record_missing_testdata();
    return false;
}

// The reason a test skips: what is missing, seen from where.
inline std::string missing_testdata_message(std::string_view path) {
    char cwd[4096];
    const char* here = ::getcwd(cwd, sizeof cwd) ? cwd : "?";
    return testdata_path(path) + " is missing (working directory " + here +
           "): the shared test data sits next to the checkout, in ../shared/testdata";
}

} // namespace pixelring::test

// Skips the current test (in a test body or a fixture's SetUp) when path under
// ../shared/testdata is missing; the executable then exits with 77 if no test failed.
#define REQUIRE_TESTDATA(path)                                                                     \
    do {                                                                                           \
        if (!::pixelring::test::have_testdata(path))                                               \
            GTEST_SKIP() << ::pixelring::test::missing_testdata_message(path);                     \
    } while (0)
