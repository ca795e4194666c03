"""bench/time_to_quality.py: the plumbing and the output format, on a tiny generated folder."""

import re
from pathlib import Path

import pytest

from tests.helpers import load_script, write_good_faces
from vae.data.folder import holdout_split


@pytest.fixture(scope="module")
def bench():
    return load_script("bench/time_to_quality.py")


def test_holdout_split_is_by_name_only():
    names = [f"cs{i * 7919 % 10007}.png" for i in range(200)]
    kept, held = holdout_split(names, 20)
    assert len(held) == 20 and len(kept) == 180 and not set(kept) & set(held)
    moved = [f"sub/{name}" for name in reversed(names)]  # other order, other folder: the same faces
    _, held_moved = holdout_split(moved, 20)
    assert {names[i] for i in held} == {Path(moved[i]).name for i in held_moved}
    with pytest.raises(ValueError, match="hold out 200 of 200"):
        holdout_split(names, 200)


def test_time_to_reach_interpolates(bench):
    points = [(10.0, 0.5), (20.0, 0.7), (30.0, 0.9)]
    assert bench.time_to_reach(points, 0.8) == pytest.approx(25.0)
    assert bench.time_to_reach(points, 0.4) == 10.0  # reached at the first evaluation: no earlier point to trust
    assert bench.time_to_reach(points, 0.95) is None


def test_seeds_model_shapes(bench):
    import torch

    model = bench.SeedsVAE()
    recon, mu, logvar = model(torch.rand(2, 3, 64, 64))
    assert recon.shape == (2, 3, 64, 64) and mu.shape == logvar.shape == (2, 32)
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)


def test_runs_both_sides_and_prints_the_ratio(bench, tmp_path, capsys):
    write_good_faces(tmp_path / "faces", 40, size=96)
    log = tmp_path / "curve.csv"
    code = bench.main(
        [
            "--data",
            str(tmp_path / "faces"),
            "--budget-s",
            "3",
            "--eval-every",
            "0.5",
            "--held-out",
            "8",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--csv",
            str(log),
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("machine: ") and "32 training faces, 8 held-out faces" in lines[1]
    final = re.fullmatch(r"final SSIM: baseline (\S+) after (\S+) s \| ours (\S+) after (\S+) s", lines[-2])
    assert final, lines[-2]
    assert all(0.0 <= float(final.group(i)) <= 1.0 for i in (1, 3))
    assert all(float(final.group(i)) >= 3.0 for i in (2, 4))  # each side trained for its whole budget
    assert re.fullmatch(
        r"SSIM \S+: baseline \S+ s \| ours \S+ s \| ours x\d+\.\d\d faster"
        r"|ours never reached the baseline's final SSIM .* speed-up below x1\.00",
        lines[-1],
    ), lines[-1]
    rows = log.read_text().splitlines()
    assert rows[0] == "side,seconds,ssim"
    for side in ("baseline", "ours"):
        times = [float(row.split(",")[1]) for row in rows[1:] if row.startswith(side + ",")]
        # evaluations in training-time order, the last at the end of the budget (how many before it
        # depends on the machine's speed: under load one step can take the whole budget)
        assert times and times == sorted(times) and times[-1] >= 3.0, rows


def test_missing_data_exits_2(bench, tmp_path, capsys):
    assert bench.main(["--data", str(tmp_path / "nowhere")]) == 2
    assert "nowhere not found" in capsys.readouterr().err
