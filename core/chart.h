// A line chart as a standalone SVG document: validation loss against tokens for the
// demo's report and the training studies in bench/. Hand-written because what it
// draws is a few polylines with axes and a legend, and the only chart libraries in
// Debian are Python or JavaScript ones that the C++ programs would have to shell out to.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tessera {

struct ChartSeries {
  std::string name;   // legend text (escaped here)
  std::string color;  // an SVG colour, e.g. "#1f77b4"
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in the order given
};

// x from 0 to the largest x of any series (labelled in millions), y over the series'
// range with 5% padding. Empty series are left out of the plot and the legend.
std::string line_chart_svg(const std::vector<ChartSeries>& series, const std::string& title,
                           const std::string& x_label = "tokens trained", const std::string& y_label = "validation loss");

// A colour for the i-th series of a chart (a fixed, distinguishable cycle).
std::string chart_color(std::size_t i);

}  // namespace tessera
