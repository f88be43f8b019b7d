#include "core/chart.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace tessera {

namespace {
std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}
}  // namespace

std::string chart_color(std::size_t i) {
  static const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  return kColors[i % (sizeof kColors / sizeof kColors[0])];
}

std::string line_chart_svg(const std::vector<ChartSeries>& series, const std::string& title, const std::string& x_label,
                           const std::string& y_label) {
  double x_max = 1, y_min = 1e300, y_max = -1e300;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      x_max = std::max(x_max, x);
      y_min = std::min(y_min, y);
      y_max = std::max(y_max, y);
    }
  }
  if (y_min > y_max) y_min = 0, y_max = 1;
  const double pad = 0.05 * std::max(0.1, y_max - y_min);
  y_min -= pad;
  y_max += pad;
  const int W = 720, H = 420, L = 70, R = 20, T = 40, B = 50;
  auto px = [&](double x) { return L + (W - L - R) * x / x_max; };
  auto py = [&](double y) { return T + (H - T - B) * (y_max - y) / (y_max - y_min); };
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << escape(title) << "</text>\n"
    << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n"
    << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 5; ++i) {
    const double y = y_min + (y_max - y_min) * i / 5, x = x_max * i / 5;
    s << "<text x=\"" << L - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">" << std::setprecision(2) << y << "</text>\n"
      << "<line x1=\"" << L << "\" y1=\"" << py(y) << "\" x2=\"" << W - R << "\" y2=\"" << py(y) << "\" stroke=\"#eee\"/>\n"
      << "<text x=\"" << px(x) << "\" y=\"" << H - B + 18 << "\" text-anchor=\"middle\">" << std::setprecision(2) << x / 1e6
      << "M</text>\n";
  }
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 10 << "\" text-anchor=\"middle\">" << escape(x_label) << "</text>\n"
    << "<text x=\"16\" y=\"" << (T + H - B) / 2 << "\" transform=\"rotate(-90 16," << (T + H - B) / 2
    << ")\" text-anchor=\"middle\">" << escape(y_label) << "</text>\n";
  int row = 0;
  for (const auto& series_i : series) {
    if (series_i.points.empty()) continue;
    const std::string color = escape(series_i.color);
    s << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
    for (const auto& [x, y] : series_i.points) s << px(x) << "," << py(y) << " ";
    s << "\"/>\n";
    for (const auto& [x, y] : series_i.points) {
      s << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"2.5\" fill=\"" << color << "\"/>\n";
    }
    s << "<rect x=\"" << W - R - 260 << "\" y=\"" << T + 8 + 18 * row << "\" width=\"14\" height=\"4\" fill=\"" << color
      << "\"/>"
      << "<text x=\"" << W - R - 240 << "\" y=\"" << T + 14 + 18 * row << "\">" << escape(series_i.name) << "</text>\n";
    ++row;
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace tessera
