#include "tools/train_mnist/replicate_results.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <utility>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/io/npy.h"

namespace zs::driver {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json_file(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw UserError("replicate: " + p.string() + " is missing; rerun the step with --force --only <step>");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw UserError("replicate: " + p.string() + " is not valid JSON (" + e.what() + "); rerun the step with --force");
  }
}

double number_at(const json& j, const std::string& key, const fs::path& from) {
  if (!j.contains(key) || !j[key].is_number())
    throw UserError("replicate: " + from.string() + " has no number '" + key + "'; rerun the step with --force");
  return j[key].get<double>();
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}
std::string pct(double fraction, int digits = 1) { return fixed(100 * fraction, digits) + "%"; }
std::string seconds_text(double s) { return s < 120 ? fixed(s, 1) + " s" : fixed(s / 60, 1) + " min"; }

// "0.4 points higher" / "lower" / "the same": the gap between two error rates, said plainly.
std::string points_gap(double ours, double blog) {
  const double d = 100 * (ours - blog);
  if (std::fabs(d) < 0.05) return "the same";
  return fixed(std::fabs(d), 1) + " points " + (d > 0 ? "higher" : "lower");
}

struct Step {
  json numbers = json::array();
  json figures = json::array();
  std::string ours, difference;

  void number(const std::string& key, const std::string& label, double ours_value, std::optional<double> blog,
              const std::string& unit) {
    numbers.push_back({{"key", key},
                       {"label", label},
                       {"ours", ours_value},
                       {"blog", blog ? json(*blog) : json(nullptr)},
                       {"unit", unit}});
  }
  // Figures of the step's runs: {file relative to the step's folder, caption}.
  void figures_of(const fs::path& out, const fs::path& dir,
                  std::initializer_list<std::pair<const char*, const char*>> list) {
    for (const auto& [name, caption] : list) {
      const fs::path file = dir / name;
      if (!fs::exists(file)) throw UserError("replicate: " + file.string() + " is missing; rerun the step with --force");
      figures.push_back({{"file", fs::relative(file, out).string()}, {"caption", caption}});
    }
  }
};

// The three most frequent confusions of a 10 x 10 count matrix (truth, predicted), both directions
// of a pair together: "4<->9 (123), 3<->5 (98), 7<->9 (75)".
std::string main_confusions(const json& counts) {
  std::vector<std::pair<int64_t, std::string>> pairs;
  for (int a = 0; a < 10; ++a)
    for (int b = a + 1; b < 10; ++b) {
      const int64_t n = counts.at(size_t(a)).at(size_t(b)).get<int64_t>() + counts.at(size_t(b)).at(size_t(a)).get<int64_t>();
      pairs.push_back({n, std::to_string(a) + "<->" + std::to_string(b)});
    }
  std::stable_sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  std::string text;
  for (size_t i = 0; i < 3 && i < pairs.size(); ++i)
    text += (i ? ", " : "") + pairs[i].second + " (" + std::to_string(pairs[i].first) + ")";
  return text;
}

// Test error of another complete step's run, when that step has been run into the same --out.
std::optional<double> other_step_number(const fs::path& out, const std::string& step, const std::string& key) {
  const fs::path p = out / step / "metrics.json";
  if (!fs::exists(p)) return std::nullopt;
  const json summary = read_json_file(p);  // a named object: the loop must not outlive it
  for (const json& n : summary.at("numbers"))
    if (n.at("key") == key && n.at("ours").is_number()) return n.at("ours").get<double>();
  return std::nullopt;
}

// 60,000 images for the blog's timings: our time scaled linearly in the image count (a Lloyd pass is
// linear in it), said with the count when it differs.
std::string at_images(double seconds, int images) {
  if (images == 60000) return seconds_text(seconds);
  return seconds_text(seconds) + " on " + std::to_string(images) + " images (" +
         seconds_text(seconds * 60000.0 / images) + " scaled to 60,000)";
}

Step ae16(const fs::path& out, const fs::path& dir) {
  Step r;
  const json m = read_json_file(dir / "ae/metrics.json");
  const json maps = read_json_file(dir / "ae/tsne_maps.json");
  const double bce = number_at(m, "test_loss", dir / "ae/metrics.json");
  const double knn_train = number_at(maps.at("train"), "knn_accuracy_10", dir / "ae/tsne_maps.json");
  const double knn_test = number_at(maps.at("test"), "knn_accuracy_10", dir / "ae/tsne_maps.json");
  r.number("test_bce", "test BCE per pixel", bce, std::nullopt, "");
  r.number("tsne_train_knn_accuracy", "t-SNE map of training latents: 10-NN label accuracy", knn_train, std::nullopt, "fraction");
  r.number("tsne_test_knn_accuracy", "t-SNE map of test latents: 10-NN label accuracy", knn_test, std::nullopt, "fraction");
  r.ours = "test BCE " + fixed(bce, 4) + " per pixel; in the t-SNE maps " + pct(knn_train) + " (training latents, n = " +
           std::to_string(maps["train"]["n"].get<int64_t>()) + ") and " + pct(knn_test) + " (test, n = " +
           std::to_string(maps["test"]["n"].get<int64_t>()) + ") of the points have their digit's majority among their 10 nearest neighbours";
  r.difference = "The blog gives no number: look at the maps and the reconstructions. A 10-NN accuracy near 100% means "
                 "separated digit islands.";
  r.figures_of(out, dir,
               {{"ae/reconstructions.png", "test digits (top) and their reconstructions"},
                {"ae/tsne_train.png", "t-SNE of training latents (z = 16)"},
                {"ae/tsne_test.png", "t-SNE of test latents (z = 16)"},
                {"ae/loss.png", "training and test loss per epoch"}});
  return r;
}

Step ae2(const fs::path& out, const fs::path& dir) {
  Step r;
  const NpyMatrix z = load_npy_matrix(dir / "ae/latent_test.npy");
  if (z.cols != 2 || z.rows < 1) throw UserError("replicate: " + (dir / "ae/latent_test.npy").string() + " is not N x 2");
  std::array<float, 2> lo{INFINITY, INFINITY}, hi{-INFINITY, -INFINITY};
  for (int64_t i = 0; i < z.rows; ++i)
    for (int d = 0; d < 2; ++d) {
      lo[size_t(d)] = std::min(lo[size_t(d)], z.data[size_t(i * 2 + d)]);
      hi[size_t(d)] = std::max(hi[size_t(d)], z.data[size_t(i * 2 + d)]);
    }
  const double wx = hi[0] - lo[0], wy = hi[1] - lo[1];
  r.number("x_width", "test latents: width of z[0]'s range", wx, 14.0, "");
  r.number("y_width", "test latents: width of z[1]'s range", wy, 15.0, "");
  r.ours = "test latents over [" + fixed(lo[0], 1) + ", " + fixed(hi[0], 1) + "] x [" + fixed(lo[1], 1) + ", " +
           fixed(hi[1], 1) + "]";
  r.difference = "ranges " + fixed(wx, 1) + " x " + fixed(wy, 1) + " wide against the blog's about 14 x 15 (" +
                 fixed(wx / 14, 2) + "x, " + fixed(wy / 15, 2) + "x); where the cloud sits and which way it points "
                 "change with every training run";
  r.figures_of(out, dir,
               {{"ae/latent.png", "test latents (z = 2), coloured by digit"},
                {"ae/reconstructions.png", "test digits and their reconstructions"}});
  return r;
}

Step vae2(const fs::path& out, const fs::path& dir) {
  Step r;
  const json m = read_json_file(dir / "vae/metrics.json"), tiny = read_json_file(dir / "vae-tiny-kl/metrics.json");
  const double inside = number_at(m.at("latent_stats"), "fraction_within_4", dir / "vae/metrics.json");
  const double inside_tiny = number_at(tiny.at("latent_stats"), "fraction_within_4", dir / "vae-tiny-kl/metrics.json");
  const auto stds = [](const json& j) { return fixed(j["latent_stats"]["std"][0].get<double>(), 2) + ", " +
                                               fixed(j["latent_stats"]["std"][1].get<double>(), 2); };
  r.number("fraction_within_4", "test latents inside [-4, 4]^2 (KL weight 1)", inside, 1.0, "fraction");
  r.number("fraction_within_4_tiny_kl", "the same with KL weight 1e-4", inside_tiny, std::nullopt, "fraction");
  r.ours = pct(inside) + " of the test latents inside [-4, 4]^2 (std " + stds(m) + "); with KL weight 1e-4 " +
           pct(inside_tiny) + " (std " + stds(tiny) + ")";
  r.difference = std::string(inside >= 0.99 ? "confined, as the blog says" : "less confined than the blog's") +
                 "; the tiny KL weight lets the latents spread like an AE's (see ae2)";
  r.figures_of(out, dir,
               {{"vae/latent.png", "VAE test latents (KL weight 1)"},
                {"vae/generated.png", "digits decoded from z ~ N(0, I)"},
                {"vae/manifold.png", "decoded grid over [-3, 3]^2"},
                {"vae-tiny-kl/latent.png", "VAE test latents with KL weight 1e-4"}});
  return r;
}

Step kmeans_raw(const fs::path& out, const fs::path& dir) {
  Step r;
  const fs::path mp = dir / "kmeans/metrics.json";
  const json m = read_json_file(mp);
  const double train = number_at(m, "train_error", mp), test = number_at(m, "test_error", mp);
  const double bad = number_at(m, "clusters_over_40pct_error", mp);
  r.number("train_error", "train error", train, 0.115, "fraction");
  r.number("test_error", "test error", test, 0.112, "fraction");
  r.number("clusters_over_40pct_error", "clusters with more than 40% error (of 225)", bad, 15.0, "count");
  r.ours = "train error " + fixed(train, 3) + ", test error " + fixed(test, 3) + "; " + fixed(bad, 0) +
           " clusters over 40% error; main test confusions " + main_confusions(m.at("confusion_test").at("counts"));
  r.difference = "test error " + points_gap(test, 0.112) + " than the blog's, train error " + points_gap(train, 0.115) +
                 "; " + fixed(bad, 0) + " bad clusters against about 15";
  r.figures_of(out, dir,
               {{"kmeans/confusion_test.png", "test confusion matrix (counts)"},
                {"kmeans/centers.png", "the 225 centres as images"}});
  return r;
}

Step kmeans_scalers(const fs::path& out, const fs::path& dir) {
  Step r;
  const json n = read_json_file(dir / "normalize/metrics.json"), s = read_json_file(dir / "standardize/metrics.json");
  const double n_train = number_at(n, "train_error", dir / "normalize/metrics.json");
  const double n_test = number_at(n, "test_error", dir / "normalize/metrics.json");
  const double s_test = number_at(s, "test_error", dir / "standardize/metrics.json");
  r.number("normalize_train_error", "Normalizer: train error", n_train, 0.085, "fraction");
  r.number("normalize_test_error", "Normalizer: test error", n_test, 0.083, "fraction");
  r.number("standardize_test_error", "StandardScaler: test error", s_test, std::nullopt, "fraction");
  r.ours = "Normalizer: train " + fixed(n_train, 3) + ", test " + fixed(n_test, 3) + "; StandardScaler: test " + fixed(s_test, 3);
  r.difference = "Normalizer test error " + points_gap(n_test, 0.083) + " than the blog's";
  if (auto raw = other_step_number(out, "kmeans-raw", "test_error")) {
    r.number("standardize_minus_unscaled", "StandardScaler minus unscaled test error", s_test - *raw, 0.015, "fraction");
    r.difference += "; StandardScaler " + points_gap(s_test, *raw) + " than unscaled (the blog: 1.5 points higher)";
  }
  r.figures_of(out, dir,
               {{"normalize/confusion_test.png", "test confusion matrix with the Normalizer"}});
  return r;
}

Step elbow(const fs::path& out, const fs::path& dir) {
  Step r;
  const fs::path mp = dir / "elbow/metrics.json";
  const json m = read_json_file(mp);
  const auto ks = m.at("ks").get<std::vector<int>>();
  const auto inertias = m.at("inertias").get<std::vector<double>>();
  const double seconds = number_at(m, "seconds_total", mp);
  if (ks.size() < 2 || ks.size() != inertias.size()) throw UserError("replicate: " + mp.string() + " has no elbow curve");
  // How much the inertia still falls over the last fifth of the k range: an elbow would make it ~0.
  const int k_from = ks.back() - (ks.back() - ks.front()) / 5;
  size_t from = 0;
  while (from + 2 < ks.size() && ks[from] < k_from) ++from;
  const double tail_drop = 1 - inertias.back() / inertias[from];
  r.number("seconds", "time for the whole curve", seconds, 1200.0, "seconds");
  r.number("tail_drop", "inertia drop over the last fifth of the k range", tail_drop, std::nullopt, "fraction");
  r.ours = std::to_string(ks.size()) + " fits from k = " + std::to_string(ks.front()) + " to " + std::to_string(ks.back()) +
           " in " + seconds_text(seconds) + "; the inertia still falls " + pct(tail_drop) + " from k = " +
           std::to_string(ks[from]) + " to " + std::to_string(ks.back());
  r.difference = "the blog: under 20 minutes on 3 cores, no pronounced elbow; ours " + seconds_text(seconds) +
                 " (" + fixed(seconds / 1200, 2) + "x its bound), with the curve in the figure";
  r.figures_of(out, dir,
               {{"elbow/elbow.png", "inertia against k"}});
  return r;
}

Step kmeans_time(const fs::path& out, const fs::path& dir, const ReplicateSettings& s) {
  Step r;
  (void)out;
  const int k = s.budget.time_k_large;
  const std::string large = "lloyd-k" + std::to_string(k), mini = "minibatch-k" + std::to_string(k);
  const json a = read_json_file(dir / "lloyd-k25/metrics.json"), b = read_json_file(dir / large / "metrics.json"),
             c = read_json_file(dir / mini / "metrics.json");
  const double t25 = number_at(a, "fit_seconds", dir / "lloyd-k25/metrics.json");
  const double tk = number_at(b, "fit_seconds", dir / large / "metrics.json");
  const double tm = number_at(c, "fit_seconds", dir / mini / "metrics.json");
  const int images = a.at("train_size").get<int>();
  const double scale = 60000.0 / images;
  r.number("lloyd_k25_seconds_60k", "Lloyd k = 25 fit, scaled to 60,000 images", t25 * scale, 42.0, "seconds");
  r.number("lloyd_k" + std::to_string(k) + "_seconds_60k", "Lloyd k = " + std::to_string(k) + " fit, scaled to 60,000 images",
           tk * scale, k == 200 ? std::optional<double>(214.0) : std::nullopt, "seconds");
  r.number("minibatch_speedup", "Lloyd / MiniBatchKMeans fit time at k = " + std::to_string(k), tk / tm, 80.0, "ratio");
  r.ours = "Lloyd k = 25: " + at_images(t25, images) + "; k = " + std::to_string(k) + ": " + at_images(tk, images) +
           "; MiniBatchKMeans k = " + std::to_string(k) + " " + fixed(tk / tm, 1) + "x faster than Lloyd";
  const std::string threads = std::to_string(a.at("threads").get<int>()) + " threads";
  r.difference = "k = 25 " + fixed(42.0 / (t25 * scale), 1) + "x faster than the blog's 42 s on 3 cores (ours on " +
                 threads + ", scaled to 60,000 images)";
  if (k == 200) r.difference += "; k = 200 " + fixed(214.0 / (tk * scale), 1) + "x faster than its 214 s";
  r.difference += "; MiniBatchKMeans " + fixed(tk / tm, 1) + "x faster than Lloyd against the blog's more than 80x";
  return r;
}

Step tsne_raw(const fs::path& out, const fs::path& dir) {
  Step r;
  const fs::path mp = dir / "tsne/metrics.json";
  const json m = read_json_file(mp);
  const double knn = number_at(m, "knn_accuracy_10", mp), kl = number_at(m, "kl_divergence", mp);
  const double tw = number_at(m, "trustworthiness_5", mp), seconds = number_at(m, "seconds_total", mp);
  r.number("knn_accuracy", "10-NN label accuracy in the map", knn, std::nullopt, "fraction");
  r.number("kl_divergence", "KL divergence", kl, std::nullopt, "");
  r.number("trustworthiness_5", "trustworthiness (5 neighbours)", tw, std::nullopt, "");
  r.number("seconds", "time", seconds, std::nullopt, "seconds");
  r.ours = std::to_string(m.at("n").get<int64_t>()) + " images mapped in " + seconds_text(seconds) + ": KL " +
           fixed(kl, 3) + ", trustworthiness " + fixed(tw, 3) + ", 10-NN label accuracy " + pct(knn);
  r.difference = "The blog gives no number: look for the digit islands and the 4/7/9 and 3/5/8 mixed zones the "
                 "confusion matrix of kmeans-raw predicts.";
  r.figures_of(out, dir,
               {{"tsne/tsne.png", "t-SNE of raw training images"}});
  return r;
}

Step ae25_kmeans(const fs::path& out, const fs::path& dir) {
  Step r;
  const fs::path ap = dir / "ae-kmeans/metrics.json";
  const json a = read_json_file(ap), n = read_json_file(dir / "normalize/metrics.json"),
             k100 = read_json_file(dir / "k100/metrics.json");
  const json maps = read_json_file(dir / "ae-kmeans/tsne_maps.json");
  const double test = number_at(a.at("kmeans"), "test_error", ap);
  const double n_test = number_at(n, "test_error", dir / "normalize/metrics.json");
  const double k100_test = number_at(k100, "test_error", dir / "k100/metrics.json");
  const double ae_seconds = number_at(a.at("ae"), "train_seconds", ap);
  const double knn = number_at(maps.at("test"), "knn_accuracy_10", dir / "ae-kmeans/tsne_maps.json");
  r.number("test_error", "test error, unscaled latents", test, 0.0574, "fraction");
  r.number("normalize_test_error", "test error, normalized latents", n_test, 0.054, "fraction");
  r.number("k100_test_error", "test error with 100 clusters", k100_test, 0.08, "fraction");
  r.number("ae_train_seconds", "AE training time", ae_seconds, 150.0, "seconds");
  r.number("tsne_test_knn_accuracy", "t-SNE map of test latents: 10-NN label accuracy", knn, std::nullopt, "fraction");
  r.ours = "test error " + fixed(test, 4) + " unscaled, " + fixed(n_test, 4) + " normalized, " + fixed(k100_test, 4) +
           " with 100 clusters; the AE trained in " + seconds_text(ae_seconds) + " (" +
           std::to_string(a["ae"]["train_count"].get<int64_t>()) + " images, " +
           std::to_string(a["ae"]["epochs"].get<int64_t>()) + " epochs, " + a["ae"]["device"].get<std::string>() +
           "); test-latent map 10-NN accuracy " + pct(knn);
  r.difference = "unscaled " + points_gap(test, 0.0574) + ", normalized " + points_gap(n_test, 0.054) +
                 ", 100 clusters " + points_gap(k100_test, 0.08) + " than the blog";
  if (auto raw = other_step_number(out, "tsne-raw", "knn_accuracy"))
    r.difference += "; the latent map's 10-NN accuracy " + pct(knn) + " against raw pixels' " + pct(*raw) +
                    (knn > *raw ? " (separates better, as the blog says)" : " (not better than raw pixels)");
  r.figures_of(out, dir,
               {{"ae-kmeans/tsne_test.png", "t-SNE of the 25-D test latents"},
                {"ae-kmeans/confusion_test.png", "test confusion matrix, KMeans on the latents"},
                {"ae-kmeans/reconstructions.png", "test digits and their reconstructions (MSE AE, z = 25)"}});
  return r;
}

}  // namespace

json summarize_step(const std::string& step, const fs::path& out, const ReplicateSettings& s) {
  const fs::path dir = out / step;
  Step r = step == "ae16"             ? ae16(out, dir)
           : step == "ae2"            ? ae2(out, dir)
           : step == "vae2"           ? vae2(out, dir)
           : step == "kmeans-raw"     ? kmeans_raw(out, dir)
           : step == "kmeans-scalers" ? kmeans_scalers(out, dir)
           : step == "elbow"          ? elbow(out, dir)
           : step == "kmeans-time"    ? kmeans_time(out, dir, s)
           : step == "tsne-raw"       ? tsne_raw(out, dir)
           : step == "ae25-kmeans"    ? ae25_kmeans(out, dir)
                                      : throw std::logic_error("summarize_step: unknown step " + step);
  const StepSpec* spec = find_step(step);
  return {{"step", step},
          {"blog_setup", spec->blog_setup},
          {"blog_result", spec->blog_result},
          {"numbers", r.numbers},
          {"ours", r.ours},
          {"difference", r.difference},
          {"figures", r.figures}};
}

}  // namespace zs::driver
