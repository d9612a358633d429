// ISO 8601 parsing as the token keeper needs it for the API's times.
#include <gtest/gtest.h>

#include <ctime>

#include "agent/iso8601.hpp"

namespace avn::agent {
namespace {

using namespace std::chrono;

TEST(iso8601, parses_whole_and_fractional_seconds_and_utc_offsets) {
    const auto whole = parse_iso8601("2021-08-16T16:26:10Z");
    ASSERT_TRUE(whole);
    EXPECT_EQ(system_clock::to_time_t(*whole), 1629131170);
    const auto micro = parse_iso8601("2021-08-16T16:26:10.298796Z");
    ASSERT_TRUE(micro);
    EXPECT_EQ(duration_cast<microseconds>(*micro - *whole).count(), 298796);
    const auto milli = parse_iso8601("2021-08-16T16:26:10.5+00:00");
    ASSERT_TRUE(milli);
    EXPECT_EQ(duration_cast<milliseconds>(*milli - *whole).count(), 500);
}

TEST(iso8601, rejects_other_zones_and_garbage) {
    EXPECT_FALSE(parse_iso8601("2021-08-16T16:26:10+02:00"));
    EXPECT_FALSE(parse_iso8601("2021-08-16 16:26:10Z"));
    EXPECT_FALSE(parse_iso8601("yesterday"));
    EXPECT_FALSE(parse_iso8601(""));
    EXPECT_FALSE(parse_iso8601("2021-08-16T16:26:10"));
    // Signs, spaces and dates that do not exist are refused, not rolled over.
    EXPECT_FALSE(parse_iso8601("2021-08-16T16:+6:10Z"));
    EXPECT_FALSE(parse_iso8601("2021-08- 6T16:26:10Z"));
    EXPECT_FALSE(parse_iso8601("2021-02-30T16:26:10Z"));
    EXPECT_FALSE(parse_iso8601("2021-13-01T16:26:10Z"));
    EXPECT_FALSE(parse_iso8601("2021-08-16T24:00:00Z"));
    EXPECT_FALSE(parse_iso8601("2021-08-16T16:26:10.Z"));
    EXPECT_TRUE(parse_iso8601("2024-02-29T23:59:59Z"));
}

TEST(iso8601, formats_what_it_parses) {
    const auto t = parse_iso8601("2026-12-28T15:16:30Z");
    ASSERT_TRUE(t);
    EXPECT_EQ(format_iso8601(*t), "2026-12-28T15:16:30Z");
}

TEST(iso8601, formats_like_gmtime_and_strftime) {
    // Every day boundary, leap day and month end from 1970 to 2100, and
    // odd seconds in between, against the C library's formatting.
    for (std::int64_t t = 0; t < 4102444800; t += 86400 / 4 + 7) {
        const std::time_t tt = static_cast<std::time_t>(t);
        std::tm tm{};
        ASSERT_NE(::gmtime_r(&tt, &tm), nullptr);
        char want[32];
        std::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
        const auto at = std::chrono::system_clock::from_time_t(tt) + std::chrono::milliseconds(999);
        ASSERT_EQ(format_iso8601(at), want) << t;
    }
}

}  // namespace
}  // namespace avn::agent
