"""Train a Face Explorer VAE from the command line.

Examples:
  python train_cli.py                                  # built-in generated faces, 64×64, latent 32
  python train_cli.py --data ~/cartoonset10k --epochs 30 --out runs/cartoonset
  python train_cli.py --out runs/cartoonset --resume   # continue an interrupted run, on its data and settings
  torchrun --nproc_per_node=4 train_cli.py --data ~/cartoonset100k   # several GPUs

Exit codes: 0 finished, 2 bad arguments, data or run folder (or a full disk), 130 interrupted by Ctrl-C,
143 terminated by SIGTERM or SIGHUP (a closed terminal) (all save a resumable checkpoint first).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from vae.common.cli_args import float_range, int_range
from vae.common.interrupts import (
    STOP_SIGNALS,
    TERMINATING,
    StopThenAbort,
    Terminated,
    ended_by_sigterm,
    handle,
    own_signal_handlers,
    raise_terminated,
    stop_between_chunks,
)
from vae.data.cache import BUILTIN_COUNT
from vae.train.config import SETTINGS, Setting

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 2, 130, 143


def add_setting(parser: argparse.ArgumentParser, setting: Setting) -> None:
    """``--name`` for one of :data:`vae.train.config.SETTINGS`, its default the recipe's."""
    default = setting.default()
    if setting.choices:
        kind = {"choices": setting.choices, "type": type(default)}
    elif isinstance(default, int):
        kind = {"type": int_range(int(setting.low), int(setting.high))}
    else:
        kind = {"type": float_range(setting.low, setting.high, setting.low_inclusive)}
    parser.add_argument(setting.flag, default=default, help=setting.help, **kind)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train_cli.py",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data",
        action="append",
        default=None,
        metavar="FOLDER",
        help="'builtin' (generated cartoon faces, made once and cached) or a folder of images, "
        "e.g. an unpacked Cartoon Set (subfolders are walked; CSV labels are used when present); "
        "repeat it to train on several folders at once, each with its own hold-out",
    )
    for setting in SETTINGS:
        add_setting(p, setting)
    p.add_argument(
        "--flip",
        action="store_true",
        help="mirror a random half of each training batch left to right: twice the faces to learn from, "
        "less overfitting on small datasets (default: off)",
    )
    p.add_argument(
        "--init-from",
        default="",
        metavar="CHECKPOINT",
        help="start a new run from the layers of a trained model that line up (vae.model.grow), e.g. a 128×128 "
        "run with --base-channels 16 from the 64×64 model, or a --decoder-width 2 run from a width-1 model, which "
        "starts drawing the same faces (default: random weights)",
    )
    p.add_argument(
        "--attribute-classifier",
        default="",
        metavar="CLASSIFIER",
        help="with --attribute-weight or --latent-readout-weight: a real-label attribute classifier "
        "(python -m vae.measure.fidelity train)",
    )
    p.add_argument(
        "--adversarial-skip",
        action="append",
        default=[],
        metavar="FOLDER",
        help="with --adversarial-weight: a --data folder whose faces train the reconstruction terms only; the patch "
        "discriminator neither learns from them as real faces nor judges their reconstructions (for faces that are "
        "soft at the training size, e.g. cartoonset100k_adl_128 at 128, which would teach it that soft is real); "
        "repeatable (default: it sees every folder)",
    )
    p.add_argument(
        "--pixel-weights",
        default="",
        metavar="MAP",
        help="weigh the squared error pixel by pixel with this map (python -m vae.measure.pixel_weights), e.g. "
        "more on the irises so reconstructions keep eye colour (default: every pixel alike)",
    )
    p.add_argument(
        "--encoder-only",
        action="store_true",
        help="with --init-from: train the encoder alone to reconstruct each face from its μ, the decoder (and so "
        "every face it draws) fixed: closes part of the gap between μ and the latent the decoder draws the face "
        "best from (default: train the whole model)",
    )
    p.add_argument(
        "--decoder-only",
        action="store_true",
        help="with --init-from: train the decoder alone on the fixed encoder's latents, e.g. a 128 px decoder for a "
        "64 px model's latents (--encoder-size 64): every face keeps the encoding it had (default: the whole model)",
    )
    p.add_argument("--no-cosine", action="store_true", help="keep the learning rate constant (default: cosine decay)")
    p.add_argument("--out", default="runs/face-vae", help="run folder for checkpoints, metrics.csv and previews")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument(
        "--force",
        action="store_true",
        help="with --resume: continue although --data, --batch-size or another training setting changed",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run in an --out folder that already holds one, replacing it",
    )
    p.add_argument(
        "--limit",
        type=int_range(1, 100_000_000),
        default=None,
        help="use only the first N images of each folder (a resumed run keeps its own)",
    )
    p.add_argument(
        "--builtin-count",
        type=int_range(16, 1_000_000),
        default=None,
        help=f"size of the built-in dataset (default {BUILTIN_COUNT})",
    )
    return p


# Options kept in the TrainConfig field of the same name, beside SETTINGS (--no-cosine is ``cosine`` negated).
CONFIG_OPTIONS = ("flip", "init_from", "attribute_classifier", "pixel_weights", "encoder_only", "decoder_only")


def given_options(argv: list[str] | None) -> set[str]:
    """The options (by destination) that ``argv`` sets itself; the others are left to their defaults."""
    probe = build_parser()
    for action in probe._actions:  # argparse has no public way to tell a default from a value given
        action.default = argparse.SUPPRESS  # an option left out now leaves no attribute at all
    return set(vars(probe.parse_args(argv)))


def config_options(args: argparse.Namespace, given: set[str] | None = None) -> dict:
    """The TrainConfig fields the command line's own options set (those in ``given``, when given)."""
    from vae.data.collection import folder_name

    options = {name: getattr(args, name) for name in CONFIG_OPTIONS}
    options["cosine"] = not args.no_cosine
    options["adversarial_skip"] = [folder_name(folder) for folder in args.adversarial_skip]
    if given is not None:
        options = {name: value for name, value in options.items() if {name, f"no_{name}"} & given}
    return options


def world_size() -> int:
    """The process count torchrun set in $WORLD_SIZE (1 without it); ValueError when it is unusable."""
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        world = int(text)
    except ValueError:
        raise ValueError(f"WORLD_SIZE must be a whole number, got {text!r}") from None
    if world < 1:
        raise ValueError(f"WORLD_SIZE must be at least 1, got {world}")
    missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if world > 1 and not os.environ.get(name)]
    if missing:
        raise ValueError(
            f"WORLD_SIZE={world} but {', '.join(missing)} not set: start several processes with "
            f"torchrun --nproc_per_node={world} train_cli.py …"
        )
    return world


def main(argv: list[str] | None = None) -> int:
    """Train as the arguments say; returns the exit code (the caller's signal handlers are kept)."""
    with own_signal_handlers():
        return _train(argv)


def _train(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    given = given_options(argv)

    import torch
    import torch.distributed as dist
    from tqdm import tqdm

    from vae.common.atomic import WriteError
    from vae.common.control import Cancelled, TerminalControl
    from vae.data.collection import folder_name
    from vae.data.folder import DataError
    from vae.model import checkpoint
    from vae.model.attribute_loss import frozen_judge
    from vae.model.checkpoint import CheckpointError
    from vae.model.grow import grow_from
    from vae.model.network import ConvVAE
    from vae.model.pixel_weights import load as load_pixel_weights
    from vae.train.config import config_with
    from vae.train.run_folder import check_run_folder, run_state, trained_to
    from vae.train.trainer import TrainingDiverged
    from vae.train.training_run import TrainingRun

    handle(TERMINATING, raise_terminated)

    def err(message: str) -> None:
        tqdm.write(f"error: {message}", file=sys.stderr)

    try:
        world = world_size()
        if world > 1:
            dist.init_process_group(backend="nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo")
    except (ValueError, RuntimeError) as exc:  # RuntimeError: the rendezvous failed (DistNetworkError, …)
        err(f"cannot start distributed training: {exc}")
        return EXIT_BAD_INPUT
    rank = dist.get_rank() if world > 1 else 0
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    preparation = None
    try:
        saved_run = run_state(args.out) if args.resume else None
        saved = saved_run["config"] if saved_run else None
        if saved_run and saved is None and "data" not in given:
            raise ValueError(
                f"cannot resume from {args.out} alone: its last.pt holds no training settings; "
                "give the run's --data and options again with --resume"
            )
        if saved is None:  # a new run (or an old one that saved no settings): the command line over the recipe
            config = config_with(vars(args), **config_options(args))
        else:  # a resumed run goes on as saved, but for what the command line says itself
            chosen = {name: value for name, value in vars(args).items() if name in given}
            config = config_with(chosen, recipe=saved, **config_options(args, given))
            if "data" not in given:
                args.data = saved_run["data_folders"]
            if "builtin" in (args.data or []) and "builtin_count" not in given:
                args.builtin_count = saved_run["builtin_count"]
            if "limit" not in given:
                args.limit = saved_run["limit"]
        if saved_run and trained_to(saved_run, config.epochs):
            print(
                f"the run in {args.out} has trained all its {config.epochs} epochs: nothing to resume; "
                f"to train it further give more, e.g. --resume --epochs {config.epochs + 10}",
                file=sys.stderr,
            )
            return EXIT_OK
        args.data = args.data or ["builtin"]
        run = TrainingRun(
            config,
            args.data,
            args.out,
            resume=args.resume,
            force=args.force,
            overwrite=args.overwrite,
            builtin_count=args.builtin_count or BUILTIN_COUNT,
            limit=args.limit,
        )
        if rank == 0:
            run.log.connect(lambda m: tqdm.write(m, file=sys.stderr))
            check_run_folder(args.out, args.resume, args.overwrite)  # before a long dataset preparation
            if args.init_from and not args.resume:  # a bad or mismatched checkpoint fails now
                grow_from(ConvVAE(config.model), checkpoint.load(args.init_from).model)
            if config.attribute_classifier:  # an unreadable classifier fails before the dataset is prepared
                frozen_judge(config.attribute_classifier)
            if config.pixel_weights:
                load_pixel_weights(config.pixel_weights, config.model.image_size)
            unknown = set(config.adversarial_skip) - {folder_name(folder) for folder in args.data}
            if unknown:  # a misspelt folder fails before the dataset is prepared
                raise ValueError(f"--adversarial-skip {', '.join(sorted(unknown))}: not one of the --data folders")
        if rank != 0:
            dist.barrier()

        def announce_stop(signum):
            tqdm.write("stopping the dataset preparation (Ctrl-C again to abort)", file=sys.stderr)

        with (
            stop_between_chunks(announce_stop) as preparation,
            TerminalControl(lambda: preparation.requested, bars=rank == 0 and sys.stderr.isatty()) as control,
        ):
            data = run.prepare(control)
        if rank == 0 and world > 1:
            dist.barrier()
        if len(data) < 2:
            raise DataError(f"{', '.join(args.data)}: need at least 2 usable images, found {len(data)}")
    except (DataError, ValueError, WriteError, CheckpointError) as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    except (KeyboardInterrupt, Terminated, Cancelled) as exc:
        err("interrupted while preparing the dataset; nothing was trained (the partial cache was removed)")
        return EXIT_TERMINATED if ended_by_sigterm(exc, preparation) else EXIT_INTERRUPTED

    bar = None

    def on_step(event):
        nonlocal bar
        if bar is None or bar.desc != f"epoch {event.epoch}/{config.epochs}":
            if bar is not None:
                bar.close()
            bar = tqdm(
                total=event.steps_per_epoch,
                desc=f"epoch {event.epoch}/{config.epochs}",
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
                initial=event.step,  # the step just ended: a rate only from the next one on
            )
        bar.update(event.step - bar.n)
        bar.set_postfix_str(
            f"loss {event.loss:.1f} recon {event.recon:.1f} kl {event.kl:.1f} {event.images_per_s:.0f} img/s"
        )

    def on_epoch(event):
        m = event.metrics
        if bar is not None:
            bar.close()
        tqdm.write(
            f"epoch {event.epoch}/{event.epochs}: train {m['train_loss']:.1f} | val {m['val_loss']:.1f} "
            f"(recon {m['val_recon']:.1f}, kl {m['val_kl']:.1f}) | SSIM {m['val_ssim']:.4f} PSNR {m['val_psnr']:.2f} dB"
            f" | active units {m['active_units']}/{config.model.latent_dim}{' | best' if event.is_best else ''}",
            file=sys.stderr,
        )

    run.step.connect(on_step)
    run.epoch.connect(on_epoch)

    def announce(signum):
        what = "terminated" if signum in TERMINATING else "interrupted"
        tqdm.write(f"{what}: finishing this step and saving a checkpoint (Ctrl-C again to abort)", file=sys.stderr)

    interrupt = StopThenAbort(run.stop, announce)

    def kept() -> str:
        return f" (the last saved checkpoint is {run.last_path})" if run.last_path.exists() else ""

    handle(STOP_SIGNALS, interrupt)
    try:
        try:
            result = run.train()
        finally:
            if bar is not None:
                bar.close()
            if world > 1:
                dist.destroy_process_group()
        if result.status == "stopped":
            tqdm.write(
                f"{'terminated' if interrupt.terminated else 'interrupted'}; resume with: "
                f"python train_cli.py --out {args.out} --resume",
                file=sys.stderr,
            )
            return EXIT_TERMINATED if interrupt.terminated else EXIT_INTERRUPTED
        if rank == 0:
            tqdm.write(f"done: {result.epochs_done} epochs; best model {result.best_path}", file=sys.stderr)
        return EXIT_OK
    except (TrainingDiverged, ValueError, OSError, CheckpointError) as exc:  # OSError: a full disk, a vanished folder
        err(f"{exc}{kept()}" if isinstance(exc, (OSError, CheckpointError)) else str(exc))
        return EXIT_BAD_INPUT
    except (KeyboardInterrupt, Terminated) as exc:  # a second signal: stop without waiting for the step to finish
        handle(STOP_SIGNALS, signal.SIG_IGN)
        saved = kept()
        err(
            f"aborted{saved}; resume with: python train_cli.py --out {args.out} --resume"
            if saved
            else "aborted before the first checkpoint; nothing was saved"
        )
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
