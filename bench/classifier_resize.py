"""How 128 px faces are best brought to the attribute classifiers' 64 px: each resize against the data cache.

    python bench/classifier_resize.py --classifier real_attr_plain.pt \
        [--data ../shared/cartoonset_amls_128 --data ../shared/cartoonset100k_adl_128] [--held-out 500]

The classifiers learn from the 64 px data caches (Lanczos, :mod:`vae.data.folder`); a 128 px model's faces reach
them through :func:`vae.model.attribute_net.classifier_sized`. On the held-out labelled real faces at 128 px, each
resize here is compared with the cache: the mean absolute pixel difference, the classifier's accuracy on the
resized faces (against the real labels) and how often it reads the class it reads off the cache's faces.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch.nn.functional as F  # noqa: E402

from bench.machine import describe  # noqa: E402
from vae.data.collection import open_datasets  # noqa: E402
from vae.measure.fidelity import HELD_OUT, agreement, open_labelled, predicted  # noqa: E402
from vae.model.attribute_net import IMAGE_SIZE, classifier_sized, load  # noqa: E402

RESIZES = {
    "bilinear, antialiased": lambda x: F.interpolate(x, size=IMAGE_SIZE, mode="bilinear", antialias=True),
    "area": lambda x: F.interpolate(x, size=IMAGE_SIZE, mode="area"),
    "bicubic, antialiased (classifier_sized)": classifier_sized,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", required=True)
    parser.add_argument("--data", action="append", default=None)
    parser.add_argument("--held-out", type=int, default=HELD_OUT)
    args = parser.parse_args()
    folders = args.data or ["../shared/cartoonset_amls_128", "../shared/cartoonset100k_adl_128"]
    print(describe())
    classifier = load(args.classifier)
    cache, heads, targets, _, held = open_labelled(folders, args.held_out)
    small = cache.batch(held).float()
    large = open_datasets([str(f) for f in folders], 128).batch(held).float()
    on_cache = predicted(classifier, small)
    print(f"{len(held)} held-out faces; columns: accuracy / agrees with the cache's reading")
    print("the cache itself:", "  ".join(f"{n} {agreement(on_cache[n], targets[n][held]):.3f}" for n in heads))
    differences = {}
    for name, resize in RESIZES.items():
        resized = resize(large)
        differences[name] = float((resized - small).abs().mean())
        read = predicted(classifier, resized)
        cells = []
        for n in heads:
            known = targets[n][held] >= 0
            cells.append(
                f"{n} {agreement(read[n], targets[n][held]):.3f} / {agreement(read[n][known], on_cache[n][known]):.3f}"
            )
        print(f"{name}: mean |difference| {differences[name]:.4f}")
        print("   ", "  ".join(cells))
    chosen, bilinear = differences["bicubic, antialiased (classifier_sized)"], differences["bilinear, antialiased"]
    print(f"classifier_sized is ×{bilinear / chosen:.2f} closer to the cache than the bilinear resize")


if __name__ == "__main__":
    main()
