#include "net/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace fedledger::net {
namespace {

enum Type { kCounter = 0, kGauge = 1, kHistogram = 2 };
const char* TypeName(int t) {
  switch (t) {
    case kCounter: return "counter";
    case kGauge: return "gauge";
    default: return "histogram";
  }
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fedledger metrics: programmer error: %s\n", what.c_str());
  std::abort();
}

bool ValidName(const std::string& n, bool allow_colon) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string RenderLabels(const Labels& labels, const std::string* le) {
  if (labels.empty() && le == nullptr) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + EscapeLabelValue(v) + "\"";
  }
  if (le != nullptr) {
    if (!first) out += ",";
    out += "le=\"" + *le + "\"";
  }
  out += "}";
  return out;
}

}  // namespace

void Counter::Inc(double amount) {
  if (!(amount >= 0)) Die("Counter::Inc with a negative or NaN amount");
  value_.fetch_add(amount, std::memory_order_relaxed);
}

void Gauge::Inc(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i])) Die("histogram bound is not finite");
    if (i > 0 && !(bounds_[i] > bounds_[i - 1])) Die("histogram bounds not strictly increasing");
  }
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // First bucket whose bound is >= v (Prometheus buckets are "less than or equal").
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  if (std::isnan(v)) i = bounds_.size();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.upper_bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> Histogram::ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1) Die("bad exponential bucket parameters");
  std::vector<double> out;
  double b = start;
  for (int i = 0; i < count; ++i, b *= factor) out.push_back(b);
  return out;
}

std::vector<double> Histogram::LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

struct MetricsRegistry::Series {
  Labels labels;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> fn;
};

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  int type;
  std::vector<std::unique_ptr<Series>> series;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Series& MetricsRegistry::AddSeries(const std::string& name,
                                                    const std::string& help, int type,
                                                    Labels labels) {
  if (!ValidName(name, true)) Die("invalid metric name '" + name + "'");
  for (const auto& [k, v] : labels) {
    if (!ValidName(k, false) || k.rfind("__", 0) == 0 || k == "le") {
      Die("invalid label name '" + k + "' on " + name);
    }
  }
  // Caller holds mu_.
  Family* fam = nullptr;
  for (auto& f : families_) {
    if (f->name == name) fam = f.get();
  }
  if (fam == nullptr) {
    families_.push_back(std::make_unique<Family>(Family{name, help, type, {}}));
    fam = families_.back().get();
  } else {
    if (fam->type != type || fam->help != help) Die("metric '" + name + "' re-registered differently");
    for (auto& s : fam->series) {
      if (s->labels == labels) Die("metric '" + name + "' registered twice with the same labels");
    }
  }
  fam->series.push_back(std::make_unique<Series>());
  fam->series.back()->labels = std::move(labels);
  return *fam->series.back();
}

Counter& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                     Labels labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = AddSeries(name, help, kCounter, std::move(labels));
  s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                 Labels labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = AddSeries(name, help, kGauge, std::move(labels));
  s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> upper_bounds, Labels labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = AddSeries(name, help, kHistogram, std::move(labels));
  s.histogram = std::make_unique<Histogram>(std::move(upper_bounds));
  return *s.histogram;
}

void MetricsRegistry::AddGaugeFunction(const std::string& name, const std::string& help,
                                       std::function<double()> fn, Labels labels) {
  if (!fn) Die("AddGaugeFunction without a function");
  std::lock_guard<std::mutex> lock(mu_);
  AddSeries(name, help, kGauge, std::move(labels)).fn = std::move(fn);
}

void MetricsRegistry::AddCounterFunction(const std::string& name, const std::string& help,
                                         std::function<double()> fn, Labels labels) {
  if (!fn) Die("AddCounterFunction without a function");
  std::lock_guard<std::mutex> lock(mu_);
  AddSeries(name, help, kCounter, std::move(labels)).fn = std::move(fn);
}

void MetricsRegistry::AddRenderHook(std::function<void()> fn) {
  if (!fn) Die("AddRenderHook without a function");
  std::lock_guard<std::mutex> lock(mu_);
  render_hooks_.push_back(std::move(fn));
}

std::string MetricsRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& hook : render_hooks_) hook();
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f->name + " " + EscapeHelp(f->help) + "\n";
    out += "# TYPE " + f->name + " " + TypeName(f->type) + "\n";
    for (const auto& s : f->series) {
      if (f->type == kHistogram) {
        Histogram::Snapshot snap = s->histogram->Take();
        for (size_t i = 0; i <= snap.upper_bounds.size(); ++i) {
          std::string le =
              i < snap.upper_bounds.size() ? FormatMetricValue(snap.upper_bounds[i]) : "+Inf";
          out += f->name + "_bucket" + RenderLabels(s->labels, &le) + " " +
                 std::to_string(snap.cumulative[i]) + "\n";
        }
        std::string labels = RenderLabels(s->labels, nullptr);
        out += f->name + "_sum" + labels + " " + FormatMetricValue(snap.sum) + "\n";
        out += f->name + "_count" + labels + " " + std::to_string(snap.count) + "\n";
        continue;
      }
      double v = s->fn        ? s->fn()
                 : s->counter ? s->counter->Value()
                              : s->gauge->Value();
      out += f->name + RenderLabels(s->labels, nullptr) + " " + FormatMetricValue(v) + "\n";
    }
  }
  return out;
}

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Shortest round-trip digits; plain decimal for ordinary magnitudes ("0.0001", not "1e-04").
  double a = std::fabs(v);
  auto res = (a == 0 || (a >= 1e-9 && a < 1e21))
                 ? std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed)
                 : std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace fedledger::net
