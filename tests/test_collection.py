"""Training on several folders at once: one dataset, each folder with its own hold-out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers import write_good_faces
from vae.data.cache import open_folder
from vae.data.collection import FaceCollection, open_datasets
from vae.data.folder import DataError
from vae.model import checkpoint


@pytest.fixture
def two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_good_faces(a, 12, seed=1, size=64)
    write_good_faces(b, 9, seed=2, size=64)
    return a, b


def test_a_collection_reads_each_folder_and_holds_out_the_same_faces_as_each_folder_alone(two_folders):
    a, b = two_folders
    both = open_datasets([a, b], 64, workers=1)
    alone = [open_folder(folder, 64, workers=1) for folder in (a, b)]
    assert isinstance(both, FaceCollection) and len(both) == 21 and both.image_size == 64
    assert torch.equal(both.batch([0, 12, 20]), torch.cat([alone[0].batch([0]), alone[1].batch([0, 8])]))
    kept, held = both.holdout(3)
    assert len(held) == 6 and not set(kept) & set(held) and len(kept) + len(held) == 21
    assert sorted(held[held < 12]) == sorted(alone[0].holdout(3)[1])
    assert sorted(held[held >= 12] - 12) == sorted(alone[1].holdout(3)[1])
    train, val = both.split()
    assert len(train) + len(val) == 21 and len(val) >= 2  # at least one validation face per folder
    described = both.describe()
    assert described["count"] == 21 and [f["count"] for f in described["folders"]] == [12, 9]
    assert both.label_tensor([0, 20]).shape == (2, 18)


def test_one_folder_stays_a_plain_cache_and_bad_lists_are_refused(two_folders, tmp_path):
    a, _ = two_folders
    assert not isinstance(open_datasets([a], 64, workers=1), FaceCollection)
    with pytest.raises(DataError, match="no dataset folders"):
        open_datasets([], 64)
    twin = tmp_path / "x" / "a"
    write_good_faces(twin, 3, size=64)
    with pytest.raises(DataError, match="the same folder name is given twice: a"):
        open_datasets([a, twin], 64, workers=1)


def test_train_cli_trains_on_several_folders_with_a_hold_out_in_each(two_folders, tmp_path):
    from tests.test_faults import SMALL, cli

    a, b = two_folders
    run = tmp_path / "run"
    proc = cli("--data", a, "--data", b, *SMALL, "--epochs", "1", "--holdout", "2", "--out", run, cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert "training on 17 images, 4 more held out to validate" in proc.stderr  # 2 of each folder held out
    best = checkpoint.load(run / "best.pt")
    assert best.dataset["count"] == 21 and len(best.dataset["folders"]) == 2
    assert np.isfinite(best.history[-1]["val_ssim"])
