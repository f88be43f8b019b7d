// Operational metrics in Prometheus' data model: counters, gauges and histograms, named
// and labelled by the roles that record them, exposed as the text exposition format
// (version 0.0.4) that Prometheus scrapes (net/metrics_server.h serves it over HTTP).
//
// Contract:
// - Names follow Prometheus conventions (docs/operations.md lists every metric): a
//   `tessera_<role>_` prefix, base units, counters end in `_total`.
// - A family's label names are fixed by its first use; the label values are bounded:
//   past kMaxSeries distinct label sets a family folds new ones into one series whose
//   every value is "other", so a hostile peer cannot grow a scrape (or memory) without
//   bound. No metric is labelled by hotkey or uid.
// - Recording is thread-safe and cheap (a lock-free add for counters and gauges).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tessera::metrics {

inline constexpr std::size_t kMaxSeries = 64;

using Labels = std::vector<std::pair<std::string, std::string>>;  // name → value, in a fixed order

struct Cell;  // one series' state

class Counter {
 public:
  explicit Counter(Cell* cell = nullptr) : cell_(cell) {}
  void inc(double by = 1.0) const;  // by >= 0; a negative or NaN amount is ignored
  double value() const;

 private:
  Cell* cell_;
};

class Gauge {
 public:
  explicit Gauge(Cell* cell = nullptr) : cell_(cell) {}
  void set(double v) const;
  void add(double by) const;
  double value() const;

 private:
  Cell* cell_;
};

class Histogram {
 public:
  explicit Histogram(Cell* cell = nullptr) : cell_(cell) {}
  void observe(double v) const;  // NaN is ignored
  std::uint64_t count() const;
  double sum() const;

 private:
  Cell* cell_;
};

// Bucket upper bounds for durations: 5 ms to 10 min.
const std::vector<double>& seconds_buckets();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The series of family `name` with these labels, created on first use. Asking for a
  // name already registered as another type (or with other label names) is a programming
  // error and aborts.
  Counter counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                      const Labels& labels = {});
  // A gauge or counter read when scraped (e.g. the chain height, resident memory, CPU
  // seconds).
  void gauge_callback(const std::string& name, const std::string& help, std::function<double()> read);
  void counter_callback(const std::string& name, const std::string& help, std::function<double()> read);

  // Every family in name order, series in label order: the text exposition format.
  std::string exposition() const;

 private:
  struct Family;
  Family& family(const std::string& name, const std::string& help, int type, const Labels& labels,
                 const std::vector<double>& bounds);
  Cell* cell(Family& f, const Labels& labels);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

// The process's registry: a role records here and `--metrics-listen` serves it.
Registry& registry();

// A sample value as the exposition format writes it: shortest round-trip decimal,
// "+Inf", "-Inf" or "NaN".
std::string format_value(double v);
// A label value escaped for the exposition format (backslash, double quote, newline).
std::string escape_label(const std::string& v);

}  // namespace tessera::metrics
