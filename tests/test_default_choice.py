"""The app's default model: the 128×128 one where it decodes fast enough, else the 64×64 one."""

import torch

from vae.explore.default_choice import choose_default, decode_ms
from vae.model import checkpoint
from vae.model.network import ConvVAE, VAEConfig


def save(path, size):
    torch.manual_seed(0)
    checkpoint.save(path, ConvVAE(VAEConfig(image_size=size, latent_dim=8, base_channels=8)).eval())
    return path


def test_the_128_model_opens_when_it_decodes_within_the_budget(tmp_path):
    sharp, small = save(tmp_path / "m128.pt", 128), save(tmp_path / "m64.pt", 64)
    choice = choose_default(sharp, small, budget_ms=10_000)
    assert choice.checkpoint.model.image_size == 128 and "m128.pt" in choice.reason
    assert "ms a face in fp32)" in choice.reason  # tests draw in fp32 (tests/conftest.py)


def test_the_128_model_is_timed_in_the_precision_the_app_draws_it_in(tmp_path, monkeypatch):
    sharp, small = save(tmp_path / "m128.pt", 128), save(tmp_path / "m64.pt", 64)
    monkeypatch.setenv("FACE_EXPLORER_DRAW", "bf16")
    choice = choose_default(sharp, small, budget_ms=0.0)
    assert choice.checkpoint.model.image_size == 64 and "ms a face here" in choice.reason
    assert "bf16" not in choice.reason  # the time it takes, not the precision's jargon
    assert choose_default(sharp, small, budget_ms=10_000).reason.endswith("ms a face in bf16)")


def test_a_slow_128_model_falls_back_to_the_64_model_and_says_why(tmp_path):
    sharp, small = save(tmp_path / "m128.pt", 128), save(tmp_path / "m64.pt", 64)
    choice = choose_default(sharp, small, budget_ms=0.0)
    assert choice.checkpoint.model.image_size == 64
    assert choice.reason.startswith("opened the 64 px model: m128.pt takes ")
    assert "over the 0 ms smooth sliders allow" in choice.reason and "Open checkpoint" in choice.reason
    assert len(choice.reason.replace("m128.pt", "default_model_128.pt")) < 135  # one line of a default window's bar


def test_a_missing_or_unreadable_128_model_falls_back(tmp_path):
    small = save(tmp_path / "m64.pt", 64)
    choice = choose_default(tmp_path / "absent.pt", small)
    assert choice.checkpoint.model.image_size == 64 and choice.reason == f"opened {choice.checkpoint.path.name}"
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    choice = choose_default(broken, small)
    assert choice.checkpoint.model.image_size == 64 and "broken.pt cannot be read" in choice.reason


def test_decode_ms_is_a_positive_time():
    assert decode_ms(ConvVAE(VAEConfig(latent_dim=4, base_channels=4)).eval(), repeats=3) > 0


def test_without_the_64_model_the_128_model_opens_even_when_slow(tmp_path):
    sharp = save(tmp_path / "m128.pt", 128)
    choice = choose_default(sharp, tmp_path / "absent.pt", budget_ms=0.0)
    assert choice.checkpoint.model.image_size == 128 and "absent.pt is missing" in choice.reason


def test_the_app_says_which_default_model_it_opened(monkeypatch, tmp_path):
    import main
    from vae.explore import default_choice

    sharp, small = save(tmp_path / "m128.pt", 128), save(tmp_path / "m64.pt", 64)
    monkeypatch.setattr(default_choice, "DEFAULT_128", sharp)
    monkeypatch.setattr(default_choice, "DEFAULT_64", small)
    monkeypatch.setattr(default_choice, "DECODE_BUDGET_MS", 0.0)
    session, note = main.open_session(main.build_parser().parse_args([]))
    assert session.model.image_size == 64 and note.startswith("opened the 64 px model: m128.pt takes")


def test_the_app_opens_the_model_opened_last_time_while_it_opens(monkeypatch, tmp_path):
    import main
    from vae.explore import default_choice

    sharp, small = save(tmp_path / "m128.pt", 128), save(tmp_path / "m64.pt", 64)
    monkeypatch.setattr(default_choice, "DEFAULT_128", sharp)
    monkeypatch.setattr(default_choice, "DEFAULT_64", small)
    monkeypatch.setattr(default_choice, "DECODE_BUDGET_MS", 1e9)  # the default would be the 128 px model
    args = main.build_parser().parse_args([])
    session, note = main.open_session(args, last_model=str(small))
    assert session.model.image_size == 64 and note.startswith("opened m64.pt, as at your last launch")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    for gone in (tmp_path / "deleted.pt", tmp_path / "broken.pt"):  # the default, and the note says why
        session, note = main.open_session(args, last_model=str(gone))
        assert session.model.image_size == 128 and note.startswith(f"{gone.name}, opened last time, is gone")
    chosen = main.build_parser().parse_args(["--checkpoint", str(sharp)])  # --checkpoint comes first
    assert main.open_session(chosen, last_model=str(small))[0].model.image_size == 128


def test_a_wrong_drawing_precision_is_one_line_on_stderr(monkeypatch, capsys):
    import main

    monkeypatch.setenv("FACE_EXPLORER_DRAW", "fp16")
    assert main.open_session(main.build_parser().parse_args([])) is None
    assert capsys.readouterr().err == "error: FACE_EXPLORER_DRAW must be one of fp32, bf16, not 'fp16'\n"
