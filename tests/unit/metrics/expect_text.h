#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace vela::metrics {

// Expects every one of `expected` somewhere in the Prometheus text `text`.
inline void ExpectTextContains(const std::string& text, std::initializer_list<const char*> expected) {
  for (const char* line : expected) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << text;
  }
}

}  // namespace vela::metrics
