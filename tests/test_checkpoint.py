import os
import pickle
import random
from pathlib import Path

import pytest
import torch

import vae
from vae.model import checkpoint
from vae.model.checkpoint import CheckpointError


def test_round_trip_decodes_bit_identically(tiny_model, tmp_path):
    path = tmp_path / "m.pt"
    direction = torch.randn(8)
    checkpoint.save(
        path,
        tiny_model,
        history=[{"epoch": 1, "val_ssim": 0.5}],
        dataset={"source": "x"},
        directions={"glasses": direction},
    )
    loaded = checkpoint.load(path)
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.equal(tiny_model.decode(z), loaded.model.decode(z))
    assert not loaded.model.training
    assert loaded.history[0]["val_ssim"] == 0.5 and loaded.last_metric("val_ssim") == 0.5
    assert torch.equal(loaded.directions["glasses"], direction)
    assert vae.load_model(path).latent_dim == 8
    assert not list(tmp_path.glob("*.tmp"))


def test_half_precision_save_is_close(tiny_model, tmp_path):
    path = tmp_path / "half.pt"
    checkpoint.save(path, tiny_model, half=True)
    model = vae.load_model(path)
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.allclose(tiny_model.decode(z), model.decode(z), atol=1e-2)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize(
    "case",
    ["random", "truncated", "state_dict", "other_latent", "other_size", "code", "newer", "missing", "folder", "empty"],
)
def test_bad_checkpoints_raise_checkpoint_error(case, tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"{case}.pt"
    if case == "random":
        path.write_bytes(random.Random(0).randbytes(4096))
    elif case == "truncated":
        checkpoint.save(path, tiny_model)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "state_dict":
        torch.save(tiny_model.state_dict(), path)
    elif case in ("other_latent", "other_size"):
        checkpoint.save(path, tiny_model)
        payload = torch.load(path, weights_only=True)
        payload["config"] = {
            **payload["config"],
            **({"latent_dim": 16} if case == "other_latent" else {"image_size": 128}),
        }
        torch.save(payload, path)
    elif case == "code":
        path.write_bytes(pickle.dumps({"format": "face-explorer-vae", "x": _Evil()}))
    elif case == "newer":
        checkpoint.save(path, tiny_model)
        payload = torch.load(path, weights_only=True)
        payload["format_version"] = 99
        torch.save(payload, path)
    elif case == "folder":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert not (tmp_path / "pwned").exists()
    if case == "newer":
        assert "newer" in message
    if case == "random":  # damaged bytes are not called a security risk
        assert "not a readable checkpoint" in message and not isinstance(info.value, checkpoint.UnsafeCheckpoint)
    if case == "code":
        assert "could run code" in message and isinstance(info.value, checkpoint.UnsafeCheckpoint)
    if case.startswith("other"):
        assert "do not fit" in message


def test_the_apps_own_classifier_is_named_not_called_another_programs_file():
    path = Path(__file__).resolve().parents[1] / "resources" / "attribute_classifier.pt"
    with pytest.raises(checkpoint.NotACheckpoint, match="it is Face Explorer's attribute classifier file"):
        checkpoint.load(path)


def test_random_bytes_always_raise_checkpoint_error(tmp_path, recwarn):
    """torch.load fails on garbage with IndexError, KeyError and more; all of them must become CheckpointError."""
    path = tmp_path / "garbage.pt"
    for seed in range(300):
        data = random.Random(seed).randbytes(4096)
        path.write_bytes(b"\x80\x02" + data[2:] if seed % 2 else data)  # odd seeds look like a pickle header
        with pytest.raises(CheckpointError, match="not a readable checkpoint|refused to load|not a Face Explorer"):
            checkpoint.load(path)


def test_unwritable_checkpoint_path(tiny_model, tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.save(tmp_path / "nope" / "m.pt", tiny_model)


def test_latent_priors_load_as_mixtures(tiny_model, tmp_path):
    single = {"mean": torch.zeros(8), "scale_tril": torch.eye(8)}  # the one-Gaussian form of earlier checkpoints
    checkpoint.save(tmp_path / "single.pt", tiny_model, latent_prior=single)
    prior = checkpoint.load(tmp_path / "single.pt").latent_prior
    assert prior["weights"].shape == (1,) and prior["mean"].shape == (1, 8) and prior["scale_tril"].shape == (1, 8, 8)

    mixture = {
        "weights": torch.tensor([0.25, 0.75]),
        "mean": torch.randn(2, 8),
        "scale_tril": torch.eye(8).repeat(2, 1, 1),
    }
    checkpoint.save(tmp_path / "mixture.pt", tiny_model, latent_prior=mixture)
    assert torch.equal(checkpoint.load(tmp_path / "mixture.pt").latent_prior["mean"], mixture["mean"])

    wrong = dict(mixture, weights=torch.tensor([0.5, 0.25, 0.25]))
    checkpoint.save(tmp_path / "wrong.pt", tiny_model, latent_prior=wrong)
    assert checkpoint.load(tmp_path / "wrong.pt").latent_prior is None


def test_a_ctrl_c_while_a_checkpoint_is_written_is_heard_once_the_file_is_whole(tiny_model, tmp_path, monkeypatch):
    import signal

    from vae.common.interrupts import StopThenAbort, own_signal_handlers

    heard = []
    stop = StopThenAbort(lambda: heard.append("stop"), lambda signum: heard.append(signum))
    real_save = torch.save

    def interrupted_save(payload, handle):  # two Ctrl-Cs in the middle of the write: the second would abort
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        real_save(payload, handle)

    monkeypatch.setattr(torch, "save", interrupted_save)
    path = tmp_path / "last.pt"
    with own_signal_handlers():
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        with pytest.raises(KeyboardInterrupt):
            checkpoint.save(path, tiny_model)
        assert signal.getsignal(signal.SIGINT) is stop  # the caller's handler is back
    assert heard == [signal.SIGINT, "stop"]  # the first asked to stop, the second aborted: after the write
    assert checkpoint.load(path).model.latent_dim == tiny_model.latent_dim
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left
