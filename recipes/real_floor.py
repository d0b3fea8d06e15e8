"""The real-data floor: every metric between a dataset's real train and test images.

What a perfect generator would score: the first ``--num`` training images
against the first ``--num`` test images, on the 2015 Inception network (FID,
KID, precision/recall, density/coverage) and on the dataset's domain
classifier (classes covered, KL to the real class histogram). Every table of
generated samples quotes these rows.

    export KMGAN_INCEPTION_2015=/path/to/fid_inception_2015_torchscript.pt
    python recipes/real_floor.py --data ../shared/data/mnist.npz ../shared/data/fashion_mnist.npz

Resumes: real-set features are cached per dataset, split and network
(``~/.cache/kmgan/features``), and ``results.json`` is rewritten atomically
after each dataset, so a stopped run continues where it was.
"""

import argparse
import json
import os
import time

import numpy as np

import kmgan
from kmgan import io as kio
from kmgan.metrics import features as feature_cache
from kmgan.metrics import scores


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", required=True, help="datasets: names or local .npz files")
    p.add_argument("--num", type=int, default=10_000, help="images per split (10,000)")
    p.add_argument(
        "--features",
        default="inception2015",
        choices=("inception2015", "domain"),
        help="the network of FID/KID/PR/DC (domain: the dataset's classifier, fast, not "
        "comparable to papers)",
    )
    p.add_argument("--inception-weights", default=None, help="default: $KMGAN_INCEPTION_2015")
    p.add_argument("--domain-epochs", type=int, default=5)
    p.add_argument("--domain-max-examples", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--out", default="results/real_floor")
    p.add_argument("--cache-dir", default=None, help="default: ~/.cache/kmgan/{domain,features}")
    p.add_argument("--quick", action="store_true", help="200 images, domain features")
    return p.parse_args(argv)


def _cache(args, kind):
    return {} if args.cache_dir is None else {"cache_dir": os.path.join(args.cache_dir, kind)}


def floor_row(dataset, args):
    """Every metric between the train and test images of one dataset."""
    start = time.time()
    clf = kmgan.metrics.domain_classifier(
        dataset,
        epochs=args.domain_epochs,
        max_examples=args.domain_max_examples,
        **_cache(args, "domain"),
    )
    if args.features == "domain":
        extractor = clf
    else:
        extractor = kmgan.metrics.inception_2015(args.inception_weights, batch_size=args.batch_size)
    x_train, _ = kmgan.data.load_arrays(dataset, "train")
    x_test, _ = kmgan.data.load_arrays(dataset, "test")
    n = min(args.num, len(x_train), len(x_test))
    train = feature_cache.real_features(
        dataset,
        "train",
        x_train[:n],
        extractor,
        num_samples=n,
        progress=True,
        **_cache(args, "features"),
    )
    test = feature_cache.real_features(
        dataset,
        "test",
        x_test[:n],
        extractor,
        num_samples=n,
        progress=True,
        **_cache(args, "features"),
    )
    row = scores.feature_scores(train, test, kid_subset_size=min(1000, n))
    row.update(
        dataset=os.path.basename(str(dataset)),
        num=n,
        features=getattr(extractor, "name", type(extractor).__name__),
        comparable_to_papers=bool(getattr(extractor, "comparable_to_papers", False)),
        classes_covered=int(clf.classes_covered(x_train[:n])),
        kl_to_real=float(clf.kl_to_real(x_train[:n])),
        domain_test_accuracy=float(clf.test_accuracy),
        wall_s=round(time.time() - start, 1),
    )
    return row


def _key(row):
    return (row["dataset"], row["num"], row["features"])


def markdown(rows):
    lines = [
        "| dataset | N vs N | features | FID | KID x 1e3 | precision | recall | density | "
        "coverage | classes | KL |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} (train vs test) | {r['num']:,} | {r['features']} | {r['fid']:.2f} "
            f"| {1e3 * r['kid']:.2f} ± {1e3 * r['kid_std']:.2f} | {r['precision']:.3f} "
            f"| {r['recall']:.3f} | {r['density']:.3f} | {r['coverage']:.3f} "
            f"| {r['classes_covered']} | {r['kl_to_real']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        args.num, args.features = 200, "domain"
        args.domain_epochs, args.domain_max_examples = 1, 1000
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "results.json")
    rows = {_key(r): r for r in kio.read_json(path, default=[])}
    for dataset in args.data:
        row = floor_row(dataset, args)
        rows[_key(row)] = row
        kio.atomic_write_json(path, list(rows.values()))
        kio.atomic_write_text(os.path.join(args.out, "results.md"), markdown(list(rows.values())))
        print(json.dumps(row, indent=1))
    table = markdown(list(rows.values()))
    print(table)
    return list(rows.values())


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
