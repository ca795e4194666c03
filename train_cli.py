"""Train a Face Explorer VAE from the command line.

Examples:
  python train_cli.py                                  # built-in generated faces, 64×64, latent 32
  python train_cli.py --data ~/cartoonset10k --epochs 30 --out runs/cartoonset
  python train_cli.py --out runs/cartoonset --resume   # continue an interrupted run
  torchrun --nproc_per_node=4 train_cli.py --data ~/cartoonset100k   # several GPUs

Exit codes: 0 finished, 2 bad arguments, data or run folder (or a full disk), 130 interrupted by Ctrl-C,
143 terminated by SIGTERM or SIGHUP (a closed terminal) (all save a resumable checkpoint first).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from vae.cli_args import SEED_MAX, float_range, int_range
from vae.interrupts import (
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
from vae.model import CONFIG_LIMITS, UPSAMPLING
from vae.train import DEFAULT_MODEL_RECIPE as RECIPE

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 2, 130, 143


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
    p.add_argument("--epochs", type=int_range(1, 100_000), default=20, help="number of epochs (default 20)")
    p.add_argument(
        "--batch-size",
        type=int_range(1, 65_536),
        default=RECIPE.batch_size,
        help=f"images per step and process (default {RECIPE.batch_size})",
    )
    p.add_argument(
        "--lr",
        type=float_range(0.0, 10.0, low_inclusive=False),
        default=RECIPE.lr,
        help=f"learning rate (default {RECIPE.lr:g})",
    )
    p.add_argument(
        "--beta",
        type=float_range(0.0, 1e4),
        default=RECIPE.beta,
        help="weight of the KL term; the loss is per-image summed squared error + beta·KL "
        f"(default {RECIPE.beta:g}, the default model's: sharp faces)",
    )
    p.add_argument(
        "--warmup-epochs",
        type=float_range(0.0, 100_000.0),
        default=1.0,
        help="ramp beta from 0 over this many epochs, against posterior collapse (default 1)",
    )
    p.add_argument(
        "--free-bits",
        type=float_range(0.0, 100.0),
        default=0.0,
        help="minimum KL per latent dimension in nats before it is penalised (default 0: off)",
    )
    p.add_argument(
        "--weight-decay",
        type=float_range(0.0, 10.0),
        default=0.0,
        help="AdamW's decoupled weight decay, against memorising the training faces (default 0: plain Adam)",
    )
    p.add_argument(
        "--holdout",
        type=int_range(0, 100_000_000),
        default=0,
        help="validate on the N images whose file names hash lowest (vae.data.holdout_split) and never train "
        "on them; every script holds out the same faces (default 0: a 5%% hash split)",
    )
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
        help="start a new run from the layers of a trained model that line up (vae.grow), e.g. a 128×128 "
        "run with --base-channels 16 from the 64×64 model (default: random weights)",
    )
    model = RECIPE.model
    p.add_argument(
        "--latent-dim",
        type=int_range(*CONFIG_LIMITS["latent_dim"]),
        default=model.latent_dim,
        help=f"latent dimensions (default {model.latent_dim})",
    )
    p.add_argument(
        "--image-size",
        type=int,
        choices=(64, 128),
        default=model.image_size,
        help=f"training resolution (default {model.image_size})",
    )
    p.add_argument(
        "--base-channels",
        type=int_range(*CONFIG_LIMITS["base_channels"]),
        default=model.base_channels,
        help=f"width of the first conv layer (default {model.base_channels})",
    )
    p.add_argument(
        "--residual-blocks",
        type=int_range(*CONFIG_LIMITS["residual_blocks"]),
        default=model.residual_blocks,
        help=f"residual blocks at 4×4 (default {model.residual_blocks})",
    )
    p.add_argument(
        "--full-res-channels",
        type=int_range(*CONFIG_LIMITS["full_res_channels"]),
        default=model.full_res_channels,
        help="channels of an extra decoder stage at full resolution before the RGB output; it draws the "
        f"thin outlines (default {model.full_res_channels}; 0: none)",
    )
    p.add_argument(
        "--decoder-width",
        type=int_range(*CONFIG_LIMITS["decoder_width"]),
        default=model.decoder_width,
        help=f"the decoder's channels as a multiple of the encoder's (default {model.decoder_width})",
    )
    p.add_argument(
        "--upsample",
        choices=UPSAMPLING,
        default=model.upsample,
        help="how the decoder doubles the resolution: 'transposed' convolutions, or 'resize' (nearest "
        f"neighbour, then a 3×3 convolution: no checkerboard patterns) (default {model.upsample})",
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
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto uses CUDA (bf16 mixed precision) when present, else the CPU",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="auto: bf16 autocast on CUDA, fp32 on the CPU; bf16 is also about 1.7x faster on CPUs "
        "with native bf16 (AVX512-BF16 or AMX)",
    )
    p.add_argument(
        "--limit", type=int_range(1, 100_000_000), default=None, help="use only the first N images of the folder"
    )
    p.add_argument(
        "--seed",
        type=int_range(0, SEED_MAX),
        default=0,
        help="random seed; runs on the CPU are reproducible (default 0)",
    )
    p.add_argument(
        "--builtin-count",
        type=int_range(16, 1_000_000),
        default=None,
        help="size of the built-in dataset (default 20000)",
    )
    return p


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
    args.data = args.data or ["builtin"]

    import torch
    import torch.distributed as dist
    from tqdm import tqdm

    from vae import checkpoint
    from vae.atomic import WriteError
    from vae.cache import BUILTIN_COUNT
    from vae.checkpoint import CheckpointError
    from vae.collection import open_datasets
    from vae.data import DataError
    from vae.grow import grow_from
    from vae.model import ConvVAE, VAEConfig
    from vae.parallel import Cancelled
    from vae.train import TrainConfig, Trainer, TrainingDiverged, check_run_folder

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
        model = VAEConfig(
            image_size=args.image_size,
            latent_dim=args.latent_dim,
            base_channels=args.base_channels,
            residual_blocks=args.residual_blocks,
            full_res_channels=args.full_res_channels,
            decoder_width=args.decoder_width,
            upsample=args.upsample,
        )
        config = TrainConfig(
            model=model,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            beta=args.beta,
            warmup_epochs=args.warmup_epochs,
            free_bits=args.free_bits,
            weight_decay=args.weight_decay,
            cosine=not args.no_cosine,
            seed=args.seed,
            device=args.device,
            precision=args.precision,
            holdout=args.holdout,
            flip=args.flip,
            init_from=args.init_from,
        )
        if rank == 0:
            check_run_folder(args.out, args.resume, args.overwrite)  # before a long dataset preparation
            if args.init_from and not args.resume:
                grow_from(ConvVAE(model), checkpoint.load(args.init_from).model)  # a bad or mismatched one fails now
        if rank != 0:
            dist.barrier()

        def announce_stop(signum):
            tqdm.write("stopping the dataset preparation (Ctrl-C again to abort)", file=sys.stderr)

        with stop_between_chunks(announce_stop) as preparation:
            data = open_datasets(
                args.data,
                args.image_size,
                builtin_count=args.builtin_count or BUILTIN_COUNT,
                progress=rank == 0 and sys.stderr.isatty(),
                limit=args.limit,
                log=lambda m: tqdm.write(m, file=sys.stderr) if rank == 0 else None,
                should_stop=lambda: preparation.requested,
            )
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
                initial=event.step - 1,
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

    try:
        trainer = Trainer(
            config,
            data,
            args.out,
            on_step=on_step,
            on_epoch=on_epoch,
            log=lambda m: tqdm.write(m, file=sys.stderr) if rank == 0 else None,
        )
    except ValueError as exc:
        err(str(exc))
        return EXIT_BAD_INPUT

    def announce(signum):
        what = "terminated" if signum in TERMINATING else "interrupted"
        tqdm.write(f"{what}: finishing this step and saving a checkpoint (Ctrl-C again to abort)", file=sys.stderr)

    interrupt = StopThenAbort(trainer.stop, announce)

    def kept() -> str:
        return f" (the last saved checkpoint is {trainer.last_path})" if trainer.last_path.exists() else ""

    handle(STOP_SIGNALS, interrupt)
    try:
        try:
            result = trainer.run(resume=args.resume, force=args.force, overwrite=args.overwrite)
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
