"""t-SNE for the Map: scikit-learn's TSNE vs openTSNE on the same latents, and how well each keeps neighbours.

    python bench/tsne_speed.py [--checkpoint PATH] [--count 3000] [--jobs N] [--labels hair_color,face_color]

Encodes the first ``--count`` built-in generated faces (labelled; made once into the cache folder) with the
default model, times both libraries with the same settings (perplexity 30, PCA start, 250 + 500 steps, fixed
seed) and prints the CPU, both times and their ratio. Then the 5-nearest-neighbour agreement in 2-D of each
label (:func:`vae.explore.projection.knn_agreement`) for PCA and both t-SNEs, next to chance and to the agreement in
the latent space itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe  # noqa: E402
from vae.data.cache import BUILTIN  # noqa: E402
from vae.data.cartoonset import ATTRIBUTE_NAMES  # noqa: E402
from vae.explore import projection  # noqa: E402
from vae.explore.default_choice import choose_default  # noqa: E402
from vae.explore.latent_map import MAX_POINTS, build_map  # noqa: E402
from vae.model.checkpoint import load_model  # noqa: E402


def sklearn_tsne(latents, jobs: int):
    from sklearn.manifold import TSNE

    return TSNE(
        perplexity=projection.TSNE_PERPLEXITY,
        init="pca",
        learning_rate="auto",
        max_iter=projection.TSNE_EARLY_ITERATIONS + projection.TSNE_ITERATIONS,
        random_state=projection.TSNE_SEED,
        n_jobs=jobs,
    ).fit_transform(latents)


def timed(fn):
    """(result, wall seconds, CPU seconds of this process: all its threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="model (default: the app's default model)")
    parser.add_argument("--count", type=int, default=MAX_POINTS, help=f"faces to lay out (default {MAX_POINTS})")
    parser.add_argument("--jobs", type=int, default=1, help="threads for both (default 1: CPU times compare)")
    parser.add_argument("--labels", default="hair_color,face_color,glasses,facial_hair", help="labels for kNN")
    parser.add_argument("-k", type=int, default=5, help="neighbours for the agreement (default 5)")
    args = parser.parse_args()

    model = load_model(args.checkpoint) if args.checkpoint else choose_default().checkpoint.model
    model.eval()
    latent_map = build_map(model, BUILTIN, args.count, builtin_count=args.count, min_points=args.count)
    latents = latent_map.mu.numpy()
    print(f"{describe()}; threads used: {args.jobs}")
    print(f"latents: {latents.shape[0]:,} faces x {latents.shape[1]} dimensions ({latent_map.cache.meta['source']})")

    layouts = {"PCA": timed(lambda: projection.pca_2d(latents))}
    layouts["scikit-learn TSNE"] = timed(lambda: sklearn_tsne(latents, args.jobs))
    layouts["openTSNE"] = timed(lambda: projection.tsne_2d(latents, n_jobs=args.jobs))
    for name, (_, wall, cpu) in layouts.items():
        print(f"{name:>18}: {wall:7.2f} s wall, {cpu:7.2f} s CPU")
    (_, sk_wall, sk_cpu), (_, ot_wall, ot_cpu) = layouts["scikit-learn TSNE"], layouts["openTSNE"]
    print(f"openTSNE vs scikit-learn's TSNE: x{sk_wall / ot_wall:.2f} faster (wall), x{sk_cpu / ot_cpu:.2f} (CPU)")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f}")

    print(f"\n{args.k}-nearest-neighbour agreement in 2-D (share of neighbours with the same label):")
    print(f"{'label':>14} {'chance':>7} {'latent (all dims)':>18} " + " ".join(f"{name:>18}" for name in layouts))
    for label in args.labels.split(","):
        values = latent_map.labels[:, ATTRIBUTE_NAMES.index(label)].numpy()
        scores = [projection.knn_agreement(xy, values, args.k) for xy, *_ in layouts.values()]
        chance, full = projection.chance_agreement(values), projection.knn_agreement(latents, values, args.k)
        print(f"{label:>14} {chance:7.3f} {full:18.3f} " + " ".join(f"{s:18.3f}" for s in scores))


if __name__ == "__main__":
    main()
