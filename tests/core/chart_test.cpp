// The SVG line chart of the demo report and the studies: one polyline and one legend row
// per non-empty series, points inside the plot area, text escaped.
#include "core/chart.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Chart, OnePolylinePerNonEmptySeriesAndEscapedText) {
  const std::string svg = line_chart_svg({{"a <subnet>", chart_color(0), {{0, 5.5}, {1e5, 4.0}, {2e5, 3.0}}},
                                          {"empty", chart_color(1), {}},
                                          {"b & c", chart_color(2), {{0, 5.5}, {2e5, 2.5}}}},
                                         "loss \"vs\" tokens");
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 5u);
  EXPECT_NE(svg.find("a &lt;subnet&gt;"), std::string::npos);
  EXPECT_NE(svg.find("b &amp; c"), std::string::npos);
  EXPECT_NE(svg.find("loss &quot;vs&quot; tokens"), std::string::npos);
  EXPECT_EQ(svg.find("empty"), std::string::npos) << "an empty series has no legend row";
  EXPECT_EQ(svg.find("<subnet>"), std::string::npos);
  EXPECT_NE(chart_color(0), chart_color(1));
}

}  // namespace
}  // namespace tessera
