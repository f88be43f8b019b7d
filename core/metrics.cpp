#include "core/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdio>

namespace tessera::metrics {

namespace {
enum Type { kCounter = 0, kGauge = 1, kHistogram = 2 };
const char* const kTypeNames[] = {"counter", "gauge", "histogram"};
}  // namespace

struct Cell {
  std::atomic<double> value{0.0};
  // Histogram only: per-bucket counts (not cumulative), the +Inf bucket last.
  std::mutex mu;
  const std::vector<double>* bounds = nullptr;
  std::vector<std::uint64_t> buckets;
  double sum = 0.0;
  std::uint64_t count = 0;
};

struct Registry::Family {
  std::string help;
  Type type = kCounter;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  std::function<double()> read;  // gauge_callback
  std::map<std::vector<std::string>, std::unique_ptr<Cell>> series;
};

void Counter::inc(double by) const {
  if (cell_ && by >= 0) cell_->value.fetch_add(by, std::memory_order_relaxed);
}
double Counter::value() const { return cell_ ? cell_->value.load(std::memory_order_relaxed) : 0.0; }

void Gauge::set(double v) const {
  if (cell_) cell_->value.store(v, std::memory_order_relaxed);
}
void Gauge::add(double by) const {
  if (cell_) cell_->value.fetch_add(by, std::memory_order_relaxed);
}
double Gauge::value() const { return cell_ ? cell_->value.load(std::memory_order_relaxed) : 0.0; }

void Histogram::observe(double v) const {
  if (!cell_ || std::isnan(v)) return;
  std::lock_guard lock(cell_->mu);
  std::size_t i = 0;
  while (i < cell_->bounds->size() && v > (*cell_->bounds)[i]) ++i;
  cell_->buckets[i] += 1;
  cell_->sum += v;
  cell_->count += 1;
}
std::uint64_t Histogram::count() const {
  if (!cell_) return 0;
  std::lock_guard lock(cell_->mu);
  return cell_->count;
}
double Histogram::sum() const {
  if (!cell_) return 0;
  std::lock_guard lock(cell_->mu);
  return cell_->sum;
}

const std::vector<double>& seconds_buckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
  return b;
}

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::family(const std::string& name, const std::string& help, int type, const Labels& labels,
                                   const std::vector<double>& bounds) {
  std::vector<std::string> names;
  for (const auto& [k, v] : labels) names.push_back(k);
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto f = std::make_unique<Family>();
    f->help = help;
    f->type = static_cast<Type>(type);
    f->label_names = names;
    f->bounds = bounds;
    it = families_.emplace(name, std::move(f)).first;
  }
  Family& f = *it->second;
  if (f.type != type || f.label_names != names || (type == kHistogram && f.bounds != bounds)) {
    std::fprintf(stderr, "metrics: %s registered twice with different types, labels or buckets\n", name.c_str());
    std::abort();
  }
  return f;
}

Cell* Registry::cell(Family& f, const Labels& labels) {
  std::vector<std::string> values;
  for (const auto& [k, v] : labels) values.push_back(v);
  auto it = f.series.find(values);
  if (it != f.series.end()) return it->second.get();
  if (f.series.size() >= kMaxSeries) values.assign(values.size(), "other");  // bounded label sets
  auto& slot = f.series[values];
  if (!slot) {
    slot = std::make_unique<Cell>();
    slot->bounds = &f.bounds;
    slot->buckets.assign(f.bounds.size() + 1, 0);
  }
  return slot.get();
}

Counter Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  return Counter(cell(family(name, help, kCounter, labels, {}), labels));
}

Gauge Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  return Gauge(cell(family(name, help, kGauge, labels, {}), labels));
}

Histogram Registry::histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                              const Labels& labels) {
  std::lock_guard lock(mu_);
  return Histogram(cell(family(name, help, kHistogram, labels, bounds), labels));
}

void Registry::gauge_callback(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  family(name, help, kGauge, {}, {}).read = std::move(read);
}

void Registry::counter_callback(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  family(name, help, kCounter, {}, {}).read = std::move(read);
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {
// `{a="x",b="y"}` (plus an extra label such as le), or "" without labels.
std::string label_text(const std::vector<std::string>& names, const std::vector<std::string>& values,
                       const std::string& extra = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + escape_label(values[i]) + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? out : "{" + out + "}";
}
}  // namespace

std::string Registry::exposition() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f->help + "\n# TYPE " + name + " " + kTypeNames[f->type] + "\n";
    if (f->read) {
      out += name + " " + format_value(f->read()) + "\n";
      continue;
    }
    for (const auto& [values, c] : f->series) {
      if (f->type != kHistogram) {
        out += name + label_text(f->label_names, values) + " " + format_value(c->value.load()) + "\n";
        continue;
      }
      std::lock_guard cell_lock(c->mu);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= f->bounds.size(); ++i) {
        cumulative += c->buckets[i];
        const std::string le = i < f->bounds.size() ? format_value(f->bounds[i]) : "+Inf";
        out += name + "_bucket" + label_text(f->label_names, values, "le=\"" + le + "\"") + " " +
               std::to_string(cumulative) + "\n";
      }
      out += name + "_sum" + label_text(f->label_names, values) + " " + format_value(c->sum) + "\n";
      out += name + "_count" + label_text(f->label_names, values) + " " + std::to_string(c->count) + "\n";
    }
  }
  return out;
}

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: threads may record during exit
  return *r;
}

}  // namespace tessera::metrics
