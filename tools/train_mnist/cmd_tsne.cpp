// train_mnist tsne: a t-SNE map of raw pixels or of latents written by `ae` (--features, the same
// rules as kmeans), the blog's figures: 10,000 random training images, or up to 15,000 latents.
// Outputs in --out: tsne.npy (float32 n x 2), tsne_labels.npy (int32), tsne.png, metrics.json
// (command, features, split, seed, iters, init, the t-SNE metrics of tsne_maps.h, seconds_total).
// Everything is checked before anything is written; the outputs are written once t-SNE is done.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/io/npy.h"
#include "tools/train_mnist/commands.h"
#include "tools/train_mnist/common.h"
#include "tools/train_mnist/features.h"
#include "tools/train_mnist/tsne_maps.h"

namespace zs::driver {
namespace {

constexpr int64_t kDefaultPixelRows = 10000;    // the KMeans post's map
constexpr int64_t kDefaultLatentRows = 15000;   // the autoencoder post's map

struct TsneCmdOptions {
  CommonOptions common;
  std::string features = "pixels";
  int64_t n = 0;   // 0: the blog's default
  std::string split = "train";
  float perplexity = 30.f;
  int iters = 1000;
  std::string method = "auto";
  std::string init = "pca";
};

void run_tsne(const TsneCmdOptions& o) {
  if (o.split != "train" && o.split != "test") throw UserError("--split: must be train or test (got " + o.split + ")");
  if (!(o.perplexity > 0)) throw UserError("--perplexity: must be > 0 (sklearn's default is 30)");
  require_range("--iters", o.iters, 1, 1e6);
  if (o.n < 0) throw UserError("--n: must be a positive row count (or leave it out for the blog's default)");
  if (o.init != "pca" && o.init != "random") throw UserError("--init: must be pca or random (got " + o.init + ")");
  TsneOptions t;
  try {
    t.method = parse_tsne_method(o.method);
  } catch (const std::invalid_argument& e) {
    throw UserError(std::string("--method: ") + e.what());
  }
  t.perplexity = o.perplexity;
  t.max_iter = o.iters;
  t.init = o.init == "pca" ? TsneInit::Pca : TsneInit::Random;
  t.seed = o.common.seed;

  std::unique_ptr<RunContext> run;
  FeatureSet f = open_features(o.features, o.common, run);
  RunContext& ctx = *run;
  const bool train = o.split == "train";
  std::vector<float>& x = train ? f.train : f.test;
  const int64_t available = train ? f.train_count : f.test_count;
  const std::vector<int32_t>& labels = train ? f.train_labels : f.test_labels;
  const std::string where = "the " + o.split + " set of --features " + o.features;
  if (available < 2)
    throw UserError(where + " has " + std::to_string(available) + " row(s); t-SNE needs at least 2 (check --" +
                    o.split + "-limit or the features file)");
  if (o.n == 1) throw UserError("--n: t-SNE needs at least 2 rows");
  if (o.n > available)
    throw UserError("--n " + std::to_string(o.n) + " is larger than the " + std::to_string(available) + " rows of " +
                    where + "; pass --n " + std::to_string(available) + " or fewer");
  const int64_t n = o.n > 0 ? o.n : std::min(available, f.is_pixels() ? kDefaultPixelRows : kDefaultLatentRows);
  if (o.perplexity >= float(n))
    throw UserError("--perplexity " + std::to_string(o.perplexity) + " must be less than the number of rows (" +
                    std::to_string(n) + "); lower --perplexity or raise --n");
  if (t.method == TsneMethod::BarnesHut && ctx.backend->name() != "cpu")
    throw UserError("--method barnes_hut runs on the cpu only; use --method exact (or auto) with --device " +
                    ctx.backend->name());
  if (f.is_pixels())
    for (float& v : x) v /= 255.f;   // pixels in [0, 1] as the blog (t-SNE itself is scale-free)

  const TsneMap map = make_tsne_map(ctx, x.data(), f.dim, labels, random_rows(available, n, o.common.seed), t);
  const std::string what = f.is_pixels() ? "MNIST " + o.split + " images (784 pixels)"
                                         : o.split + " latents (" + std::to_string(f.dim) + "-D)";
  save_npy_matrix(ctx.out_path("tsne.npy"), map.embedding, n, 2);
  save_npy_vector(ctx.out_path("tsne_labels.npy"), std::span<const int32_t>(map.labels));
  draw_tsne_map(ctx.out_path("tsne.png"), map, "t-SNE of " + std::to_string(n) + " " + what);
  nlohmann::json m = map.metrics;
  m["command"] = "tsne";
  m["features"] = f.source;
  m["split"] = o.split;
  m["seed"] = o.common.seed;
  m["iters"] = o.iters;
  ctx.write_metrics(std::move(m));
}

}  // namespace

void register_tsne(CLI::App& app) {
  std::shared_ptr<TsneCmdOptions> opts;
  CLI::App* cmd = add_command(app, "tsne", "t-SNE map of pixels or latents (sklearn 1.2's TSNE defaults)", opts, run_tsne);
  add_features_option(*cmd, opts->features);
  cmd->add_option("--n", opts->n, "rows taken at random with --seed (default 10,000 pixels / up to 15,000 latents)");
  cmd->add_option("--split", opts->split, "train or test")->capture_default_str();
  cmd->add_option("--perplexity", opts->perplexity, "t-SNE perplexity")->capture_default_str();
  cmd->add_option("--iters", opts->iters, "maximum iterations (250 of them with early exaggeration 12)")
      ->capture_default_str();
  cmd->add_option("--method", opts->method, "repulsion: auto (barnes_hut on cpu, exact on gpu), exact, barnes_hut")
      ->capture_default_str();
  cmd->add_option("--init", opts->init, "pca or random")->capture_default_str();
}

}  // namespace zs::driver
