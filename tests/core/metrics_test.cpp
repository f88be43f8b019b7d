// The metrics registry writes Prometheus' text exposition format: counters, gauges and
// cumulative histogram buckets, escaped label values, bounded label sets; Debian's
// promtool accepts what it writes; the HTTP server serves it.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/metrics.h"
#include "net/metrics_server.h"
#include "tests/test_util.h"

namespace tessera::metrics {
namespace {

TEST(Metrics, ExpositionOfCountersGaugesAndHistograms) {
  Registry r;
  r.counter("tessera_test_events_total", "Events.", {{"kind", "a"}}).inc(2);
  r.counter("tessera_test_events_total", "Events.", {{"kind", "a"}}).inc();
  r.counter("tessera_test_events_total", "Events.", {{"kind", "quote\"back\\slash\nline"}}).inc();
  r.counter("tessera_test_events_total", "Events.", {{"kind", "a"}}).inc(-5);  // ignored: counters only grow
  r.gauge("tessera_test_height", "Height.").set(42.5);
  auto h = r.histogram("tessera_test_seconds", "Durations.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(7);
  r.gauge_callback("tessera_test_read", "Read when scraped.", [] { return 3.0; });
  const std::string text = r.exposition();
  EXPECT_NE(text.find("# HELP tessera_test_events_total Events.\n# TYPE tessera_test_events_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("tessera_test_events_total{kind=\"a\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tessera_test_events_total{kind=\"quote\\\"back\\\\slash\\nline\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE tessera_test_height gauge\ntessera_test_height 42.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tessera_test_seconds_bucket{le=\"0.1\"} 1\n"
                      "tessera_test_seconds_bucket{le=\"1\"} 2\n"
                      "tessera_test_seconds_bucket{le=\"+Inf\"} 3\n"
                      "tessera_test_seconds_sum 7.55\n"
                      "tessera_test_seconds_count 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tessera_test_read 3\n"), std::string::npos) << text;
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(0.1), "0.1");
}

TEST(Metrics, LabelSetsAreBounded) {
  Registry r;
  for (int i = 0; i < 1000; ++i) r.counter("tessera_test_peers_total", "Per peer.", {{"peer", std::to_string(i)}}).inc();
  const std::string text = r.exposition();
  std::size_t series = 0;
  for (std::size_t at = 0; (at = text.find("tessera_test_peers_total{", at)) != std::string::npos; ++at) ++series;
  EXPECT_EQ(series, kMaxSeries + 1);  // the first kMaxSeries, then one "other"
  EXPECT_NE(text.find("tessera_test_peers_total{peer=\"other\"} " + std::to_string(1000 - kMaxSeries) + "\n"),
            std::string::npos);
}

// What the roles expose passes `promtool check metrics` (Debian's prometheus package),
// fetched over HTTP from the metrics server with curl.
TEST(Metrics, ServedOverHttpAndPromtoolAcceptsIt) {
  Registry r;
  r.counter("tessera_test_submissions_total", "Submissions judged, by outcome.", {{"outcome", "copy"}}).inc();
  r.histogram("tessera_test_window_seconds", "Window wall time.", seconds_buckets()).observe(1.5);
  auto server = net::MetricsServer::start("127.0.0.1:0", r);
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  testing::TempDir dir;
  auto got = testing::run_command("curl -sf " + (*server)->url() + " -o " + (dir / "metrics.txt").string());
  ASSERT_EQ(got.exit_code, 0) << got.output;
  std::ifstream in(dir / "metrics.txt");
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("tessera_test_submissions_total{outcome=\"copy\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos) << text;
  auto lint = testing::run_command("promtool check metrics < " + (dir / "metrics.txt").string());
  EXPECT_EQ(lint.exit_code, 0) << lint.output << text;
  EXPECT_FALSE(net::MetricsServer::start("not-a-port", r).ok());
}

}  // namespace
}  // namespace tessera::metrics
