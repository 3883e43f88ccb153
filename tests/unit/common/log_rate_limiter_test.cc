#include "common/log_rate_limiter.h"

#include <gtest/gtest.h>

namespace vela {
namespace {

constexpr int64_t kMs = 1000000;

TEST(LogRateLimiterTest, PassesNPerIntervalAndReportsTheSuppressed) {
  LogRateLimiter limiter(3, 1000);
  uint64_t suppressed = 99;
  int passed = 0;
  for (int i = 0; i < 1000; ++i) {
    if (limiter.AllowAt(10 * kMs + i, &suppressed)) {
      ++passed;
      EXPECT_EQ(suppressed, 0u);
    }
  }
  EXPECT_EQ(passed, 3);
  // The next interval: the first line that passes reports the 997 held back.
  ASSERT_TRUE(limiter.AllowAt(1010 * kMs + 1000, &suppressed));
  EXPECT_EQ(suppressed, 997u);
  ASSERT_TRUE(limiter.AllowAt(1010 * kMs + 1001, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogRateLimiterTest, ZeroArgumentsStillLetOneLineThrough) {
  LogRateLimiter limiter(0, 0);
  uint64_t suppressed = 0;
  EXPECT_TRUE(limiter.AllowAt(5, &suppressed));
  EXPECT_TRUE(limiter.AllowAt(5 + kMs, &suppressed));
}

TEST(LogRateLimiterTest, RealClockAllowsTheFirstLine) {
  LogRateLimiter limiter(1, 60000);
  uint64_t suppressed = 0;
  EXPECT_TRUE(limiter.Allow(&suppressed));
  EXPECT_FALSE(limiter.Allow(&suppressed));
}

}  // namespace
}  // namespace vela
