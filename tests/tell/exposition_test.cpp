#include "tell/exposition.h"

#include <gtest/gtest.h>

#include <limits>

namespace guardian {
namespace {

std::string value_text(double value) {
  std::string out;
  append_sample_value(out, value);
  return out;
}

TEST(Exposition, SampleValuesAsPrometheusReadsThem) {
  EXPECT_EQ(value_text(0), "0");
  EXPECT_EQ(value_text(13200000000.0), "13200000000");  // bytes: no exponent
  EXPECT_EQ(value_text(-3), "-3");
  EXPECT_EQ(value_text(0.1234), "0.1234");
  EXPECT_EQ(value_text(12.345678), "12.345678");
  EXPECT_EQ(value_text(1e300), "1e+300");
  EXPECT_EQ(value_text(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(value_text(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(value_text(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(Exposition, EscapesLabelValuesAndHelp) {
  // A cgroup name may hold any byte but '/' and NUL: systemd escapes most, not quotes or '\'.
  EXPECT_EQ(TextFamily::label_block({{"cgroup", "a\"b\\c\nd"}, {"kind", "current"}}),
            "{cgroup=\"a\\\"b\\\\c\\nd\",kind=\"current\"}");
  EXPECT_EQ(TextFamily::label_block({}), "");
  TextFamily family("guardian_x_bytes", "Help with a \\ backslash,\na newline and \"quotes\".",
                    TextFamily::Kind::Gauge);
  std::string out;
  family.render(out);
  EXPECT_EQ(out, "") << "a family without series renders nothing";
  family.at({{"cgroup", "b"}}) = 2;
  family.at({{"cgroup", "a"}}) = 1;
  family.render(out);
  EXPECT_EQ(out,
            "# HELP guardian_x_bytes Help with a \\\\ backslash,\\na newline and \"quotes\".\n"
            "# TYPE guardian_x_bytes gauge\n"
            "guardian_x_bytes{cgroup=\"a\"} 1\n"
            "guardian_x_bytes{cgroup=\"b\"} 2\n");
}

TEST(Exposition, SeriesReferencesStayValidAndRemoveDrops) {
  TextFamily family("guardian_y_total", "y", TextFamily::Kind::Counter);
  double& first = family.at({{"cgroup", "m"}});
  for (int i = 0; i < 1000; ++i) family.at({{"cgroup", std::to_string(i)}}) = i;
  first = 42;
  ASSERT_NE(family.find({{"cgroup", "m"}}), nullptr);
  EXPECT_EQ(*family.find({{"cgroup", "m"}}), 42);
  EXPECT_EQ(family.size(), 1001u);
  family.remove({{"cgroup", "m"}});
  EXPECT_EQ(family.find({{"cgroup", "m"}}), nullptr);
  EXPECT_EQ(family.size(), 1000u);
  std::string out;
  family.render(out);
  EXPECT_NE(out.find("# TYPE guardian_y_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace guardian
