"""The Qt-free TrainingRun: its status from preparing to finished or failed, stopping, and its result."""

from dataclasses import replace

import pytest

from tests.helpers import write_good_faces
from vae.common.control import Cancelled, Control
from vae.data.folder import DataError
from vae.model.network import VAEConfig
from vae.train.run_folder import RunFolderError, can_resume, holds_run, run_state, unfinished
from vae.train.trainer import TrainConfig
from vae.train.training_run import NOTHING_TRAINED, TrainingRun

CONFIG = TrainConfig(model=VAEConfig(latent_dim=4, base_channels=8), epochs=2, batch_size=8, device="cpu", seed=1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    write_good_faces(folder, 24, size=64)
    return folder


def watched(run: TrainingRun) -> list[str]:
    statuses = []
    run.status_changed.connect(statuses.append)
    return statuses


def test_a_run_goes_from_preparing_through_training_to_finished_with_its_history(folder, tmp_path):
    run = TrainingRun(CONFIG, str(folder), tmp_path / "run")
    statuses, epochs, ready = watched(run), [], []
    run.epoch.connect(epochs.append)
    run.data_ready.connect(lambda count, labelled: ready.append(count))
    assert run.status == "idle"
    result = run.run()
    assert statuses == ["preparing", "training", "finished"] and run.status == "finished"
    assert result is run.result and result.status == "finished" and result.epochs_done == 2
    assert [e.epoch for e in epochs] == [1, 2] and len(run.history) == 2 and ready == [24]
    assert run.message == "finished 2 epochs"
    assert holds_run(run.out_dir) and can_resume(run.out_dir) and not unfinished(run_state(run.out_dir))


def test_stop_during_training_finishes_with_where_it_stopped_and_resumes(folder, tmp_path):
    run = TrainingRun(CONFIG, str(folder), tmp_path / "run")
    statuses = watched(run)
    run.step.connect(lambda event: event.step == 1 and run.stop())
    result = run.run()
    assert statuses == ["preparing", "training", "stopping", "finished"]
    assert result.status == "stopped" and run.message == f"stopped {result.stopped_at}" and result.stopped_at
    assert unfinished(run_state(run.out_dir))
    again = TrainingRun(CONFIG, str(folder), run.out_dir, resume=True)
    assert again.run().status == "finished" and again.status == "finished"


def test_pause_and_unpause_only_while_training(folder, tmp_path):
    run = TrainingRun(replace(CONFIG, epochs=1), str(folder), tmp_path / "run")
    run.pause()
    assert run.status == "idle" and not run.paused
    seen = []

    def on_step(event):
        if event.step == 1:
            run.pause()
            seen.append(run.status)
            run.unpause()
            seen.append(run.status)

    run.step.connect(on_step)
    statuses = watched(run)
    run.run()
    assert seen == ["paused", "training"] and statuses[-1] == "finished"


def test_stop_before_the_data_is_ready_trains_nothing(folder, tmp_path):
    run = TrainingRun(CONFIG, str(folder), tmp_path / "run")
    statuses = watched(run)
    with pytest.raises(Cancelled):
        run.run(Control(should_stop=lambda: True))
    assert statuses == ["preparing", "finished"] and run.message == NOTHING_TRAINED and run.trainer is None
    assert not holds_run(run.out_dir)


def test_a_failure_ends_failed_and_is_raised(folder, tmp_path):
    write_good_faces(tmp_path / "run", 1, size=64)
    (tmp_path / "run" / "last.pt").write_bytes(b"not a checkpoint")
    run = TrainingRun(CONFIG, str(folder), tmp_path / "run")
    statuses = watched(run)
    with pytest.raises(RunFolderError):
        run.run()
    assert statuses == ["preparing", "training", "failed"] and "already holds a run" in run.message
    missing = TrainingRun(CONFIG, str(tmp_path / "nowhere"), tmp_path / "other")
    with pytest.raises(DataError):
        missing.run()
    assert missing.status == "failed" and missing.message


def test_a_free_folder_beside_a_run_is_named_after_it_and_holds_no_run(tmp_path):
    from vae.train.run_folder import free_folder_beside

    assert free_folder_beside(tmp_path / "run") == tmp_path / "run-2"
    (tmp_path / "run-2").mkdir()
    (tmp_path / "run-2" / "last.pt").write_bytes(b"a run")
    (tmp_path / "run-3").write_text("a file, not a folder")
    assert free_folder_beside(tmp_path / "run") == tmp_path / "run-4"
    assert free_folder_beside(tmp_path / "run-2") == tmp_path / "run-4"
    stamped = tmp_path / "run-20261207-194438"  # the Train tab's own names: their last digits are a time
    assert free_folder_beside(stamped) == tmp_path / "run-20261207-194438-2"


def test_a_run_folder_that_cannot_be_written_is_refused_before_anything_is_made(tmp_path):
    from vae.train.run_folder import RunFolderError, check_writable

    check_writable(tmp_path / "new" / "run")  # made later, by the run: writable
    assert list(tmp_path.iterdir()) == []  # the probe left nothing
    with pytest.raises(RunFolderError, match="cannot be written there"):
        check_writable("/proc/face-explorer-run")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "run")
