#include "tools/train_mnist/replicate_report.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "runtime/core/error.h"
#include "runtime/io/atomic_file.h"
#include "zspace_commit.h"

namespace zs::driver {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64(const std::string& bytes) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t b0 = uint8_t(bytes[i]), b1 = i + 1 < bytes.size() ? uint8_t(bytes[i + 1]) : 0,
                   b2 = i + 2 < bytes.size() ? uint8_t(bytes[i + 2]) : 0;
    const uint32_t v = b0 << 16 | b1 << 8 | b2;
    out += table[v >> 18 & 63];
    out += table[v >> 12 & 63];
    out += i + 1 < bytes.size() ? table[v >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? table[v & 63] : '=';
  }
  return out;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw UserError("replicate: cannot read the figure " + p.string() + "; rerun its step with --force");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A number as the report shows it: fractions as percentages, seconds as s or min.
std::string show(const json& v, const std::string& unit) {
  if (!v.is_number()) return "&mdash;";
  const double x = v.get<double>();
  std::ostringstream s;
  s.setf(std::ios::fixed);
  if (unit == "fraction") {
    s.precision(std::fabs(x) < 0.1 ? 2 : 1);
    s << 100 * x << "%";
  } else if (unit == "seconds") {
    s.precision(1);
    if (x < 120) s << x << " s";
    else s << x / 60 << " min";
  } else if (unit == "count") {
    s.precision(0);
    s << x;
  } else if (unit == "ratio") {
    s.precision(1);
    s << x << "x";
  } else {
    s.precision(std::fabs(x) < 1 ? 4 : 2);
    s << x;
  }
  return s.str();
}

// A sentence as the page shows it: with one final period.
std::string sentence(const std::string& s) {
  const std::string e = escape(s);
  return !e.empty() && e.back() == '.' ? e : e + ".";
}

constexpr const char* kStyle = R"(
body { font-family: "DejaVu Sans", sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.35em 0.5em; vertical-align: top; text-align: left; font-size: 0.92em; }
th { background: #f2f2f2; }
td.num { text-align: right; white-space: nowrap; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; flex: 1 1 20em; max-width: 34em; }
figure img { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; }
pre { background: #f6f6f6; padding: 0.5em; white-space: pre-wrap; word-break: break-all; font-size: 0.8em; }
.note { color: #555; font-size: 0.9em; }
@media print { body { margin: 0; max-width: none; } section { break-inside: avoid-page; } a { color: inherit; } }
)";

void summary_table(std::ostringstream& h, const std::vector<json>& steps) {
  h << "<h2>Summary</h2>\n<table>\n<tr><th>step</th><th>the blog</th><th>ours</th><th>difference</th><th>time (CPU time)</th></tr>\n";
  for (const json& s : steps) {
    const std::string name = s.at("step");
    h << "<tr><td><a href=\"#" << escape(name) << "\">" << escape(name) << "</a></td>";
    if (s.value("not_run", false)) {
      h << "<td>" << escape(s.at("blog_result")) << "</td><td colspan=\"3\">not run (run it with --only " << escape(name)
        << ")</td></tr>\n";
      continue;
    }
    h << "<td>" << escape(s.at("blog_result")) << "</td><td>" << escape(s.at("ours")) << "</td><td>"
      << escape(s.at("difference")) << "</td><td class=\"num\">" << show(s.at("seconds"), "seconds") << " ("
      << show(s.value("cpu_seconds", json()), "seconds") << ")</td></tr>\n";
  }
  h << "</table>\n";
}

void step_section(std::ostringstream& h, const json& s, const fs::path& out) {
  const std::string name = s.at("step");
  h << "<section id=\"" << escape(name) << "\">\n<h2>" << escape(name) << "</h2>\n";
  h << "<p><b>The blog:</b> " << sentence(s.at("blog_setup")) << " " << sentence(s.at("blog_result")) << "</p>\n";
  if (s.value("not_run", false)) {
    h << "<p>Not run in this folder.</p>\n</section>\n";
    return;
  }
  h << "<p><b>Ours:</b> " << sentence(s.at("ours")) << "</p>\n<p><b>Difference:</b> " << sentence(s.at("difference"))
    << "</p>\n";
  h << "<table>\n<tr><th>number</th><th>ours</th><th>the blog</th></tr>\n";
  for (const json& n : s.at("numbers"))
    h << "<tr><td>" << escape(n.at("label")) << "</td><td class=\"num\">" << show(n.at("ours"), n.at("unit"))
      << "</td><td class=\"num\">" << show(n.at("blog"), n.at("unit")) << "</td></tr>\n";
  h << "</table>\n<div class=\"figures\">\n";
  for (const json& f : s.at("figures")) {
    const std::string file = f.at("file"), caption = f.at("caption");
    h << "<figure><img src=\"data:image/png;base64," << base64(read_bytes(out / file)) << "\" alt=\"" << escape(caption)
      << "\"><figcaption>" << escape(caption) << " (<code>" << escape(file) << "</code>)</figcaption></figure>\n";
  }
  h << "</div>\n";
  const json& st = s.at("settings");
  h << "<p class=\"note\">Budget " << escape(st.at("budget")) << " (" << escape(st.at("shortened")) << "); zspace "
    << escape(st.value("zspace", std::string("?"))) << "; device "
    << escape(s.value("device", std::string("?"))) << "; " << show(s.at("seconds"), "seconds") << " in all ("
    << show(s.value("cpu_seconds", json()), "seconds") << " of CPU time). Reproduce:</p>\n<pre>";
  for (const json& c : s.at("commands")) h << escape(c) << "\n";
  h << "</pre>\n</section>\n";
}

}  // namespace

json machine_description() {
  std::string cpu = "unknown";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  return {{"cpu", cpu},
          {"cores", std::thread::hardware_concurrency()},
          {"zspace", std::string(ZSPACE_VERSION) + " (commit " + ZSPACE_COMMIT + ")"},
          {"compiler", std::string("g++ ") + __VERSION__}};
}

void write_replicate_report(const fs::path& out, const json& header, const std::vector<json>& steps) {
  json report = header;
  report["steps"] = steps;
  write_json_atomic(out / "report.json", report);

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<title>zspace: the blog series replicated</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  h << "<h1>The blog series, replicated by zspace</h1>\n<p class=\"note\">Budget <b>" << escape(header.at("budget"))
    << "</b> on <code>" << escape(header.at("data")) << "</code>, device " << escape(header.at("device")) << ", seed "
    << header.at("seed").get<unsigned long long>() << "; written " << escape(header.at("generated"))
    << ". The same numbers are in report.json.</p>\n";
  summary_table(h, steps);
  const json& m = header.at("machine");
  h << "<h2>Machine</h2>\n<table>\n<tr><th>CPU</th><td>" << escape(m.at("cpu")) << "</td></tr>\n<tr><th>cores</th><td>"
    << m.at("cores").get<unsigned>() << " hardware threads</td></tr>\n<tr><th>GPU</th><td>" << escape(m.at("gpu"))
    << "</td></tr>\n<tr><th>zspace</th><td>" << escape(m.at("zspace")) << "</td></tr>\n<tr><th>compiler</th><td>"
    << escape(m.at("compiler")) << "</td></tr>\n</table>\n";
  for (const json& s : steps) step_section(h, s, out);
  h << "</body>\n</html>\n";
  write_text_atomic(out / "report.html", h.str());
}

}  // namespace zs::driver
