"""Issue 26 (5, 7, 10): the ETA estimator, the per-step history across a resume, previews, one stop wording."""

import csv
import math

import pytest

from tests.helpers import write_good_faces
from vae.common.eta import EtaEstimator, ProgressEta
from vae.data.cache import open_folder
from vae.model.network import VAEConfig
from vae.train.run_history import STEPS_FILE, StepLog, list_previews, load_steps, stop_position
from vae.train.trainer import TrainConfig, Trainer


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def simulate(estimator, clock, step_times, steps_per_epoch, epoch_overhead):
    """Run a fake training loop; returns (first estimate, elapsed when it was made, total run time)."""
    total = len(step_times)
    first = None
    for i, seconds in enumerate(step_times):
        clock.now += seconds
        estimator.tick()
        done = i + 1
        left = estimator.seconds_left(total - done, math.ceil((total - done) / steps_per_epoch))
        if first is None and not math.isnan(left):
            first = (left, clock.now)
        if done % steps_per_epoch == 0:
            clock.now += epoch_overhead
            estimator.add_epoch_overhead(epoch_overhead)
            estimator.restart()
    return first[0], first[1], clock.now


def test_the_first_eta_is_within_2x_of_the_truth_despite_a_slow_first_step():
    clock = FakeClock()
    steps_per_epoch, epochs = 100, 5
    # a 60 s first step (allocation, kernel selection), two slowish ones, then 0.5 s ± 20 % steps
    step_times = [60.0, 3.0, 2.0] + [0.5 * (1 + 0.2 * math.sin(i)) for i in range(steps_per_epoch * epochs - 3)]
    estimate, at, end = simulate(EtaEstimator(clock=clock), clock, step_times, steps_per_epoch, epoch_overhead=4.0)
    truth = end - at
    assert truth / 2 <= estimate <= truth * 2
    assert at < 70  # it was given within the first few steps, not after an epoch
    naive = at / 9 * (len(step_times) - 9)  # the rate since the start, as before, after the same 9 steps
    assert naive > 2 * truth  # what the old estimate said: the warm-up step multiplied over the run


def test_no_estimate_until_enough_steps_and_a_pause_is_not_a_step():
    clock = FakeClock()
    eta = EtaEstimator(warmup=1, min_steps=3, clock=clock)
    for _ in range(4):
        clock.now += 1.0
        eta.tick()
        assert math.isnan(eta.seconds_left(10))
    clock.now += 1.0
    eta.tick()
    assert eta.seconds_left(10) == pytest.approx(10.0)
    eta.restart()
    clock.now += 3600  # paused for an hour
    eta.tick()
    clock.now += 1.0
    eta.tick()
    assert eta.seconds_left(10) == pytest.approx(10.0)


def test_the_preparation_eta_leaves_out_the_start_up_of_its_workers():
    clock = FakeClock()
    eta = ProgressEta(min_seconds=2.0, clock=clock)
    assert math.isnan(eta.update(0, 20_000))
    clock.now = 40.0  # 40 s of worker start-up before the first chunk of 100 faces
    assert math.isnan(eta.update(100, 20_000))
    estimates = []
    for n in range(200, 20_001, 100):  # then 100 faces every 1.5 s: 297 s to go after the first chunk
        clock.now += 1.5
        estimates.append(eta.update(n, 20_000))
    first = next(e for e in estimates if not math.isnan(e))
    truth = 1.5 * (20_000 - 300) / 100  # when the first estimate was made, after 300 faces
    assert truth / 2 <= first <= truth * 2 and estimates[-1] == 0
    naive = 20_000 / 300 * 43.0 - 43.0  # the rate since the first report, as before
    assert naive > 2 * truth
    assert math.isnan(eta.update(5, 20_000))  # the count fell back: a new stage, timed afresh


def test_step_log_groups_steps_and_closes_a_row_at_each_epoch_end():
    log = StepLog(steps_per_epoch=120)  # 50 rows an epoch at most: 3 steps a row
    assert log.every == 3
    for step in range(1, 121):
        log.add(step / 120, step, 2 * step, 0.0, epoch_end=step == 120)
    assert len(log.rows) == 40 and log.rows[0] == {"epoch": 3 / 120, "steps": 3, "loss": 2.0, "recon": 4.0, "kl": 0.0}
    log = StepLog(steps_per_epoch=5)
    for step in range(1, 6):
        log.add(step / 5, 1.0, 1.0, 1.0, epoch_end=step == 5)
    assert [row["epoch"] for row in log.rows] == [0.2, 0.4, 0.6, 0.8, 1.0]


def test_previews_are_listed_by_epoch(tmp_path):
    for name in ("epoch_010.png", "epoch_002.png", "epoch_001.png", "epoch_x.png", "notes.txt", "best.pt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "epoch_003.png").mkdir()
    assert [(epoch, path.name) for epoch, path in list_previews(tmp_path)] == [
        (1, "epoch_001.png"),
        (2, "epoch_002.png"),
        (10, "epoch_010.png"),
    ]
    assert list_previews(tmp_path / "missing") == []


def test_stop_position_has_one_wording():
    assert stop_position(1, 3, 20, 4) == "in epoch 2 of 20, after step 3 of 4"
    assert stop_position(2, 0, 20, 4) == "after epoch 2 of 20"
    assert stop_position(0, 0, 20) == "before the first step"


@pytest.fixture
def faces(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 30, size=64)
    return open_folder(folder, 64, workers=1)


def small_config(epochs):
    return TrainConfig(model=VAEConfig(latent_dim=4, base_channels=8), epochs=epochs, batch_size=8, device="cpu")


def test_the_step_history_survives_a_stop_and_continues_seamlessly_after_resume(faces, tmp_path):
    run = tmp_path / "run"
    logs = []

    def stop_in_epoch_2(event):
        if event.epoch == 2 and event.step == 2:
            trainer.stop()

    trainer = Trainer(small_config(3), faces, run, on_step=stop_in_epoch_2, log=logs.append)
    result = trainer.run()
    per_epoch = trainer.steps_per_epoch
    assert result.status == "stopped" and result.stopped_at == stop_position(1, 2, 3, per_epoch)
    assert [line for line in logs if "stopped" in line] == [
        f"stopped {result.stopped_at}; saved {run / 'last.pt'} (resuming continues from it)"
    ]
    saved = load_steps(run)
    assert [row["epoch"] for row in saved] == [(i + 1) / per_epoch for i in range(per_epoch + 2)]
    # a kill after steps.csv was written but before last.pt: rows beyond the checkpoint are dropped on resume
    with open(run / STEPS_FILE, "a", newline="") as handle:
        csv.writer(handle).writerow([1.75, 1, 999.0, 999.0, 0.0])
    resumed = Trainer(small_config(3), faces, run).run(resume=True)
    assert resumed.status == "finished"
    rows = load_steps(run)
    positions = [row["epoch"] for row in rows]
    assert positions == pytest.approx([(i + 1) / per_epoch for i in range(3 * per_epoch)])  # continuous, no gaps
    assert rows[: len(saved)] == saved and 999.0 not in [row["loss"] for row in rows]


def test_an_eta_is_reported_once_the_first_steps_are_timed(faces, tmp_path):
    steps = []
    Trainer(small_config(3), faces, tmp_path / "run", on_step=steps.append).run()
    assert math.isnan(steps[0].eta_s)  # the warm-up steps are not timed: "estimating…"
    assert math.isfinite(steps[-1].eta_s) and steps[-1].eta_s >= 0
