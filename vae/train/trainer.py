"""The training engine shared by ``train_cli.py`` and the app's training panel.

A :class:`Trainer` runs Adam (AdamW with ``weight_decay``) over a :class:`~vae.data.cache.FaceCache`,
reports events through callbacks, writes ``last.pt``/``best.pt`` atomically every epoch and can be paused, resumed
and stopped from another thread. Launched under ``torchrun`` it trains with
DistributedDataParallel; only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DistributedSampler

from ..common.atomic import atomic_write, make_folder, remove_temporaries
from ..common.eta import EtaEstimator
from ..common.lockfile import LockHeld
from ..common.machine import describe_device
from ..data.cache import FaceCache
from ..data.palette import recolour_batch
from ..explore.directions import compute_directions
from ..explore.export import grid_row, save_grid
from ..model import checkpoint
from ..model.adversarial import (
    PatchDiscriminator,
    adaptive_weight,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    output_layer,
)
from ..model.attribute_loss import LatentReadout, attribute_consistency, frozen_judge, readout_divergence
from ..model.grow import grow_from
from ..model.latent import APP_TEMPERATURE, fit_mixture, sample_fitted
from ..model.loss import vae_loss, warmup_beta
from ..model.metrics import autocast_for, encode_all, evaluate, training_precision
from ..model.network import ConvVAE, VAEConfig  # noqa: F401 (VAEConfig: re-exported)
from ..model.pixel_weights import load as load_pixel_weights
from .config import DEFAULT_MODEL_RECIPE, TRAINING_SETTINGS, TrainConfig  # noqa: F401 (re-exported)
from .run_folder import (  # noqa: F401 (RunFolderError, check_run_folder: re-exported)
    BEST,
    CONFIG,
    LAST,
    METRICS,
    RunFolderError,
    check_run_folder,
    holds_run,
    run_files,
    run_lock,
)
from .run_history import StepLog, fractional_epoch, load_steps, preview_name, stop_position


@dataclass
class StepEvent:
    epoch: int  # 1-based epoch in progress
    step: int  # 1-based step within the epoch
    steps_per_epoch: int
    loss: float
    recon: float
    kl: float
    beta: float
    images_per_s: float
    eta_s: float


@dataclass
class EpochEvent:
    epoch: int
    epochs: int
    metrics: dict  # train_loss, train_recon, train_kl, val_loss, val_recon, val_kl, val_ssim, val_psnr, …
    preview: torch.Tensor  # (N, 3, S, S): originals, reconstructions, prior samples
    is_best: bool


@dataclass
class RunResult:
    status: str  # "finished" | "stopped"
    epochs_done: int
    best_path: Path | None
    last_path: Path | None
    history: list[dict] = field(default_factory=list)
    stopped_at: str = ""  # where a stopped run stands (vae.train.run_history.stop_position), "" when it finished


class TrainingDiverged(RuntimeError):
    """The loss became non-finite; the last good checkpoint is kept."""


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available")
    return torch.device(name)


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def training_split(data: FaceCache, holdout: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices): the ``holdout`` faces of :func:`vae.data.folder.holdout_split` (of each
    folder, for a :class:`vae.data.collection.FaceCollection`), or a 5 % hash split."""
    return data.holdout(holdout) if holdout else data.split()


def mirror_half(x: torch.Tensor, seed: int, epoch: int, step: int) -> torch.Tensor:
    """``x`` with a random half of its images mirrored left to right; the choice depends on seed, epoch and step
    alone."""
    chosen = np.random.default_rng([seed, epoch, step, 1]).random(x.shape[0]) < 0.5
    mask = torch.from_numpy(chosen).to(x.device).view(-1, 1, 1, 1)
    return torch.where(mask, x.flip(-1), x)


def epoch_permutation(indices: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The training order of epoch ``epoch`` (0-based): a function of seed and epoch alone."""
    rng = np.random.default_rng([seed, epoch])
    return indices[rng.permutation(len(indices))]


LR_WARMUP_STEPS = 100  # the learning rate rises linearly over these first steps of a run (Trainer._scheduler_lr)
METRIC_COLUMNS = [
    "epoch",
    "train_loss",
    "train_recon",
    "train_kl",
    "val_loss",
    "val_recon",
    "val_kl",
    "val_ssim",
    "val_psnr",
    "active_units",
    "beta",
    "lr",
    "seconds",
]


def _batch_norms(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]


@contextlib.contextmanager
def running_stats_kept(model: torch.nn.Module):
    """Batch norm normalises by each batch as in training, but its running statistics (what evaluation and the app
    use) and batch count come out of the block as they went in: random faces must not shift those of real ones.

    The block's batches update copies, which are then dropped (the originals are never written in place, so a
    graph that saved them stays valid)."""
    norms = _batch_norms(model)
    kept = [dict(m.named_buffers(recurse=False)) for m in norms]
    for m, buffers in zip(norms, kept):
        for name, value in buffers.items():
            setattr(m, name, value.clone())
    try:
        yield
    finally:
        for m, buffers in zip(norms, kept):
            for name, value in buffers.items():
                setattr(m, name, value)


@contextlib.contextmanager
def running_stats_used(model: torch.nn.Module):
    """Batch norm normalises by its running statistics, as in evaluation and the app, and leaves them as they are."""
    norms = [m for m in _batch_norms(model) if m.training]
    for m in norms:
        m.eval()
    try:
        yield
    finally:
        for m in norms:
            m.train()


class Trainer:
    """Trains a :class:`ConvVAE` on a cached dataset; see the module docstring.

    Constructing one only records its arguments; :meth:`run` seeds, picks the device, claims the
    run folder and (with ``resume=True``) loads the saved state.
    """

    def __init__(
        self,
        config: TrainConfig,
        data: FaceCache,
        out_dir: str | os.PathLike,
        *,
        on_step: Callable[[StepEvent], None] | None = None,
        on_epoch: Callable[[EpochEvent], None] | None = None,
        log: Callable[[str], None] | None = None,
        step_every: int = 1,
    ):
        if data.image_size != config.model.image_size:
            raise ValueError(
                f"dataset is cached at {data.image_size}px but the model expects {config.model.image_size}px"
            )
        self.config = config
        self.data = data
        self.out_dir = Path(out_dir)
        self.on_step = on_step or (lambda e: None)
        self.on_epoch = on_epoch or (lambda e: None)
        self.log = log or (lambda m: None)
        self.step_every = max(1, step_every)
        self.train_idx, self.val_idx = training_split(data, config.holdout)
        self.rank, self.world = _dist_info()
        self.device: torch.device | None = None
        self.model: ConvVAE | None = None
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._paused_s = 0.0

    # ---------------------------------------------------------------- control from other threads
    def stop(self) -> None:
        """Finish the current step, save a resumable checkpoint and return."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def unpause(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    # ---------------------------------------------------------------- setting up (inside run)
    def _setup(self, resume: bool, force: bool) -> None:
        cfg = self.config
        self.device = pick_device(cfg.device)
        self.precision = training_precision(self.device, cfg.precision)
        if self.world > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(self.device)
        # loaded before seeding: building the classifier draws random numbers, which must not shift the run's
        judged = cfg.attribute_weight > 0 or cfg.latent_readout_weight > 0
        self.judge = frozen_judge(cfg.attribute_classifier, self.device) if judged else None
        self.pixel_weights = (
            load_pixel_weights(cfg.pixel_weights, cfg.model.image_size).to(self.device) if cfg.pixel_weights else None
        )
        torch.manual_seed(cfg.seed)
        self.model = ConvVAE(cfg.model).to(self.device, memory_format=torch.channels_last)
        trained = self.model.parameters()
        if cfg.encoder_only or cfg.decoder_only:
            trained = self.model.mean_encoder_parameters() if cfg.encoder_only else self.model.decoder_parameters()
            if cfg.decoder_tail:
                trained = self.model.decoder_tail_parameters(cfg.decoder_tail)
            self.model.requires_grad_(False)
            for parameter in trained:
                parameter.requires_grad_(True)
        self.optimizer = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.output_weight = output_layer(self.model)  # where the extra terms are balanced, unless at μ
        self.discriminator = None
        if cfg.adversarial_weight > 0:
            if self.world > 1:
                raise ValueError("the adversarial term trains in one process; run without torchrun")
            self.discriminator = PatchDiscriminator().to(self.device, memory_format=torch.channels_last)
            self.disc_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
        self.readout = None
        if cfg.latent_readout_weight > 0:
            self.readout = LatentReadout(cfg.model.latent_dim, self.judge.heads).to(self.device)
            self.readout_optimizer = torch.optim.AdamW(self.readout.parameters(), lr=cfg.lr)
        self.judged = judged_faces(self.data, cfg.adversarial_skip) if cfg.adversarial_skip else None
        self.history: list[dict] = []
        self.start_epoch, self.start_step = 0, 0
        self.partial_sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0, "n": 0}
        self.best_val = math.inf
        trained_weights = None
        if resume:
            trained_weights = self._load_resume_state(force)
        elif cfg.init_from:
            copied, total = grow_from(self.model, checkpoint.load(cfg.init_from).model, seed=cfg.seed)
            self.log(f"started from {cfg.init_from}: {copied:,} of the model's {total:,} weights copied")
        self.average = None
        if cfg.average_decay > 0:  # starts as the model's weights: a copy at the first step, or the saved average
            multi_avg_fn = get_ema_multi_avg_fn(cfg.average_decay)
            self.average = AveragedModel(self.model, multi_avg_fn=multi_avg_fn, use_buffers=True)
            self.average.n_averaged.fill_(int(trained_weights is not None))
        if trained_weights is not None:  # the checkpoint's model is the average; training goes on from these
            self.model.load_state_dict(trained_weights)
        self.random_prior = self._fitted_prior() if self.config.random_from == "fitted" else None
        position = fractional_epoch(self.start_epoch, self.start_step, self.steps_per_epoch)
        self.step_log = StepLog(self.steps_per_epoch, load_steps(self.out_dir, position) if resume else [])
        self.eta = EtaEstimator()
        self.net = self.model
        if self.world > 1:
            self.net = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        self.preview_z = torch.randn(8, cfg.model.latent_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))

    def _claim_folder(self, resume: bool, overwrite: bool) -> None:
        """Take the run folder's lock, and refuse to start a new run over an existing one unless ``overwrite``."""
        make_folder(self.out_dir, "the run folder")
        self._lock = run_lock(self.out_dir, log=self.log)
        try:
            self._lock.acquire()
        except LockHeld as exc:
            raise RunFolderError(str(exc)) from None
        try:
            check_run_folder(self.out_dir, resume, overwrite, lock=False)
            left = remove_temporaries(self.out_dir)  # of writes cut short by a kill; the lock says none runs now
            if left:
                self.log(f"removed {len(left)} temporary file(s) left by an interrupted run in {self.out_dir}")
            if not resume and holds_run(self.out_dir):
                for path in run_files(self.out_dir):
                    path.unlink(missing_ok=True)
                self.log(f"--overwrite: removed the previous run in {self.out_dir}")
        except BaseException:
            self._lock.release()
            raise

    # ---------------------------------------------------------------- paths and state
    @property
    def last_path(self) -> Path:
        return self.out_dir / LAST

    @property
    def best_path(self) -> Path:
        return self.out_dir / BEST

    @property
    def steps_per_epoch(self) -> int:
        per_rank = math.ceil(len(self.train_idx) / self.world)
        return max(1, math.ceil(per_rank / self.config.batch_size))

    def _scheduler_lr(self, epoch: int, step: int) -> float:
        """The learning rate at ``step`` of ``epoch``: cosine decay (unless ``--no-cosine``), after a linear warm-up
        over the first :data:`LR_WARMUP_STEPS` steps (at most the first epoch). Without it, Adam's first full-size
        steps on a fresh model move every weight of the log σ² head at once, and log σ² jumps by tens
        (KL ~1e10 at step 3 of a default Train-tab run on 600 faces)."""
        warmup = min(LR_WARMUP_STEPS, self.steps_per_epoch)
        ramp = min(1.0, (epoch * self.steps_per_epoch + step + 1) / warmup)
        if not self.config.cosine:
            return self.config.lr * ramp
        progress = (epoch + step / self.steps_per_epoch) / self.config.epochs
        return ramp * self.config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    def _load_resume_state(self, force: bool) -> dict | None:
        """Load ``last.pt`` into the model, optimiser and counters; returns the weights training continues from when
        the checkpoint's model is a moving average of them (else None)."""
        try:
            ckpt = checkpoint.load(self.last_path)
        except checkpoint.CheckpointError as exc:
            raise ValueError(f"cannot resume: {exc}") from exc
        state = ckpt.training or {}
        saved = self._saved_config(state.get("config"))
        if ckpt.model.config != self.config.model:
            changed = [
                f"{k}={v}, not {getattr(self.config.model, k)}"
                for k, v in ckpt.model.config.to_dict().items()
                if v != getattr(self.config.model, k)
            ]
            raise ValueError(
                f"cannot resume: the run in {self.out_dir} used {'; '.join(changed)} "
                "(the architecture cannot change; start a new run with --out)"
            )
        if saved is not None and self.config.init_from != saved.init_from:
            if self.config.init_from:
                self.log(f"--init-from is not used when resuming: the weights come from {self.last_path}")
            self.config = replace(self.config, init_from=saved.init_from)  # config.json keeps how the run began
        changed = [
            c for c in (self.config.changes_from(saved) if saved else []) if c.split("=")[0] in TRAINING_SETTINGS
        ]
        old_data, new_data = ckpt.dataset or {}, self.data.describe()
        for key in ("source", "count"):
            if key in old_data and old_data[key] != new_data[key]:
                changed.append(f"data {key}: {old_data[key]} → {new_data[key]}")
        if "count" in old_data and old_data["count"] < new_data["count"] and not old_data.get("limit"):
            changed[-1] += " (a run made with --limit before its limit was recorded needs it again)"
        self.model.load_state_dict(ckpt.model.state_dict())
        self.model.to(self.device)
        if self.discriminator is not None and "discriminator" in state:
            self.discriminator.load_state_dict(state["discriminator"])
            self.disc_optimizer.load_state_dict(state["disc_optimizer"])
        if self.readout is not None and "readout" in state:
            self.readout.load_state_dict(state["readout"])
            self.readout_optimizer.load_state_dict(state["readout_optimizer"])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
            for group in (
                self.optimizer.param_groups
            ):  # a forced resume decays as asked, not as saved (runs before AdamW used Adam)
                group["weight_decay"] = self.config.weight_decay
                if "decoupled_weight_decay" in group:
                    group["decoupled_weight_decay"] = True
        self.history = ckpt.history
        self.start_epoch = int(state.get("epoch", len(self.history)))
        self.start_step = int(state.get("step", 0))
        self.partial_sums = dict(state.get("partial_sums", self.partial_sums))
        self.best_val = float(state.get("best_val", math.inf))
        if changed:
            if not force:
                raise RunFolderError(
                    f"cannot resume {self.out_dir} as asked: {'; '.join(changed)} changed what is "
                    "trained; use --force to continue with the new settings, or --out for a new run"
                )
            self.log(f"--force: continuing {self.out_dir} with changed settings: {'; '.join(changed)}")
            if self.start_step:
                self.log(f"restarting epoch {self.start_epoch + 1} from its first step under the new settings")
                self.start_step = 0
        if "rng" in state:
            torch.set_rng_state(state["rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda_rng"])
        self.log(f"resuming {self.out_dir} at epoch {self.start_epoch + 1}, step {self.start_step}")
        return state.get("trained_weights")

    def _saved_config(self, saved) -> TrainConfig | None:
        """The settings stored in ``last.pt``, or None when it holds none usable (older or damaged files)."""
        if not isinstance(saved, dict):
            return None
        try:
            return TrainConfig.from_dict(saved)
        except (TypeError, ValueError) as exc:
            self.log(f"warning: {self.last_path} holds unreadable training settings ({exc}); not compared")
            return None

    def _training_state(self, epoch: int, step: int, resumable: bool = True) -> dict:
        """The run's record: its settings and position, and where ``resumable`` what continuing it needs (the
        optimisers' moments, the discriminator, random states: twice the model's size, so ``best.pt`` goes without)."""
        state = {
            "config": asdict(self.config),
            "epoch": epoch,
            "step": step,
            "partial_sums": dict(self.partial_sums),
            "best_val": self.best_val,
            "steps_per_epoch": self.steps_per_epoch,
        }
        if not resumable:
            return state
        state["optimizer"] = self.optimizer.state_dict()
        state["rng"] = torch.get_rng_state()
        if self.discriminator is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["disc_optimizer"] = self.disc_optimizer.state_dict()
        if self.readout is not None:
            state["readout"] = self.readout.state_dict()
            state["readout_optimizer"] = self.readout_optimizer.state_dict()
        if self.average is not None:
            state["trained_weights"] = self.model.state_dict()
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def _save(self, path: Path, epoch: int, step: int, extra: dict | None = None) -> None:
        if self.rank != 0:
            return
        checkpoint.save(
            path,
            self.kept_model,
            history=self.history,
            dataset=self.data.describe(),
            training=self._training_state(epoch, step, resumable=path == self.last_path),
            **(extra or {}),
        )

    @property
    def kept_model(self) -> ConvVAE:
        """The model that is evaluated, previewed and saved: the moving average of the weights, when kept."""
        return self.model if self.average is None else self.average.module

    # ---------------------------------------------------------------- the loop
    def run(self, resume: bool = False, *, force: bool = False, overwrite: bool = False) -> RunResult:
        """Train until the configured number of epochs or until :meth:`stop`.

        ``resume=True`` continues the run saved in the folder's ``last.pt`` (``force=True`` accepts
        changed training settings or data); a new run refuses a folder that holds one unless
        ``overwrite=True``. A lock file keeps two runs out of one folder.
        """
        cfg = self.config
        if self.rank == 0:
            self._claim_folder(resume, overwrite)
        try:
            self._setup(resume, force)
            self.log(
                f"training on {len(self.train_idx)} images, {len(self.val_idx)} more held out to validate "
                f"({self.data.meta.get('source')}) at {cfg.model.image_size}px, "
                f"latent {cfg.model.latent_dim}, device {self.device}"
                + (f" × {self.world} processes" if self.world > 1 else "")
                + f" ({describe_device(self.device)}), {self.precision}"
            )
            if self.rank == 0:
                with atomic_write(self.out_dir / CONFIG, "w") as handle:
                    json.dump({**asdict(self.config), "data": self.data.describe()}, handle, indent=1)
            return self._loop()
        finally:
            if self.rank == 0:
                self._lock.release()

    def _loop(self) -> RunResult:
        cfg = self.config
        self._train_mode()
        status, where = "finished", ""
        for epoch in range(self.start_epoch, cfg.epochs):
            self._epoch_t0, self._paused_s = time.perf_counter(), 0.0
            order = self._epoch_order(epoch)
            first_step = self.start_step if epoch == self.start_epoch else 0
            if first_step == 0:
                self.partial_sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0, "n": 0}
            stopped_at = self._train_epoch(epoch, order, first_step)
            if stopped_at is not None:
                if self.rank == 0:
                    self.step_log.flush(fractional_epoch(epoch, stopped_at, self.steps_per_epoch))
                    self.step_log.save(self.out_dir)
                self._save(self.last_path, epoch, stopped_at)
                where = stop_position(epoch, stopped_at, cfg.epochs, self.steps_per_epoch)
                self.log(f"stopped {where}; saved {self.last_path} (resuming continues from it)")
                status = "stopped"
                break
            ended = time.perf_counter()
            self._end_epoch(epoch)
            self.eta.add_epoch_overhead(time.perf_counter() - ended)
            self.eta.restart()
        if status == "finished" and self.rank == 0 and self.best_path.exists():
            self._finalise_best()
        return RunResult(
            status,
            len(self.history),
            self.best_path if self.best_path.exists() else None,
            self.last_path if self.last_path.exists() else None,
            self.history,
            where,
        )

    def _epoch_order(self, epoch: int) -> np.ndarray:
        """This process's training order for ``epoch``.

        One process: a seeded permutation. Several: torch's DistributedSampler, which pads so that
        every rank takes the same number of steps (DDP needs every rank in every all-reduce).
        """
        if self.world == 1:
            return epoch_permutation(self.train_idx, self.config.seed, epoch)
        sampler = DistributedSampler(
            range(len(self.train_idx)), num_replicas=self.world, rank=self.rank, shuffle=True, seed=self.config.seed
        )
        sampler.set_epoch(epoch)
        return self.train_idx[np.fromiter(iter(sampler), dtype=np.int64)]

    def _train_epoch(self, epoch: int, order: np.ndarray, first_step: int) -> int | None:
        cfg = self.config
        steps = self.steps_per_epoch
        t0 = time.perf_counter()
        seen = 0
        for step in range(first_step, steps):
            if self._stop.is_set():
                return step
            if not self._running.is_set():
                waited = time.perf_counter()
                self._running.wait()
                self._paused_s += time.perf_counter() - waited
                t0, seen = time.perf_counter(), 0
                self.eta.restart()
                if self._stop.is_set():
                    return step
            batch_idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            if len(batch_idx) == 0:
                continue
            x = self.data.batch(batch_idx).to(self.device, non_blocking=True, memory_format=torch.channels_last)
            if cfg.flip:
                x = mirror_half(x, cfg.seed, epoch, step * self.world + self.rank)
            if cfg.recolour:
                rng = np.random.default_rng([cfg.seed, epoch, step * self.world + self.rank, 2])
                x = recolour_batch(x, rng, cfg.recolour)
            beta = warmup_beta(cfg.beta, epoch + step / steps, cfg.warmup_epochs)
            lr = self._scheduler_lr(epoch, step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            with autocast_for(self.device, self.precision):
                recon, mu, logvar = self.net(x)
            if cfg.encoder_only:  # the KL still pulls μ towards the prior; log σ² stays as the full model learned it
                logvar = logvar.detach()
            terms = vae_loss(
                recon, x, mu, logvar, beta, cfg.free_bits, cfg.ssim_weight, self.pixel_weights, cfg.l1_weight
            )
            total = terms.total
            balance_at = mu if cfg.encoder_only else self.output_weight
            adversarial = self.discriminator is not None and epoch + step / steps >= cfg.adversarial_start
            random_faces = self._random_faces(x.shape[0], adversarial) if self.discriminator is not None else None
            judged = slice(None) if self.judged is None else torch.from_numpy(self.judged[batch_idx]).to(self.device)
            judged_x, judged_recon = x[judged], recon[judged]  # the faces the discriminator sees, and their drawings
            if adversarial and (len(judged_recon) or random_faces is not None):
                total = total + self._adversarial_term(judged_recon, terms.total, balance_at, random_faces)
            if adversarial and cfg.feature_matching > 0 and len(judged_recon):
                total = total + self._feature_matching_term(judged_recon, judged_x, terms.total, balance_at)
            if cfg.attribute_weight > 0:
                total = total + self._attribute_term(recon, x, terms.total, balance_at)
            if self.readout is not None:
                total = total + self._readout_term(mu, x, terms.total)
            if not torch.isfinite(total):
                kept = self.best_path if self.best_path.exists() else None
                raise TrainingDiverged(
                    f"loss became non-finite in epoch {epoch + 1}, step {step + 1} "
                    f"(learning rate {cfg.lr:g} too high?); "
                    + (f"the last good checkpoint is {kept}" if kept else "no checkpoint was written yet")
                )
            self.optimizer.zero_grad(set_to_none=True)
            total.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            if self.readout is not None:
                self._readout_step(lr)
            if self.average is not None:
                self.average.update_parameters(self.model)
            if self.discriminator is not None and len(judged_x):
                fakes = judged_recon.detach()
                fakes = fakes if random_faces is None else torch.cat([fakes, random_faces.detach()])
                self._discriminator_step(judged_x, fakes, lr)
            b = x.shape[0]
            seen += b
            loss, recon_loss, kl = terms.total.item(), terms.recon.item(), terms.kl.item()
            self.eta.tick()
            self.partial_sums["loss"] += loss * b
            self.partial_sums["recon"] += recon_loss * b
            self.partial_sums["kl"] += kl * b
            self.partial_sums["n"] += b
            self.step_log.add(fractional_epoch(epoch, step + 1, steps), loss, recon_loss, kl, step + 1 == steps)
            if self.rank == 0 and ((step + 1) % self.step_every == 0 or step + 1 == steps):
                elapsed = time.perf_counter() - t0
                rate = seen * self.world / elapsed if elapsed > 0 else 0.0
                steps_left = steps - step - 1 + (cfg.epochs - epoch - 1) * steps
                eta = self.eta.seconds_left(steps_left, cfg.epochs - epoch)
                self.on_step(StepEvent(epoch + 1, step + 1, steps, loss, recon_loss, kl, beta, rate, eta))
        return None

    def _fitted_prior(self) -> dict:
        """The fitted mixture prior of the ``init_from`` model, which ``random_from="fitted"`` draws from."""
        prior = checkpoint.load(self.config.init_from).latent_prior
        if prior is None:
            raise ValueError(
                f"random_from 'fitted': {self.config.init_from} holds no fitted prior (a finished run's best.pt or a "
                "packaged model does)"
            )
        return prior

    def _random_latents(self, count: int) -> torch.Tensor:
        """``count`` latents at the app's Random temperature, from N(0, I) or the fitted prior (``random_from``)."""
        if self.random_prior is None:
            return torch.randn(count, self.model.latent_dim, device=self.device) * APP_TEMPERATURE
        return sample_fitted(count, self.random_prior, APP_TEMPERATURE).to(self.device)

    def _random_faces(self, count: int, with_grad: bool) -> torch.Tensor | None:
        """Faces decoded from ``count`` random latents (:meth:`_random_latents`; None when not judged), their batch
        norm as ``random_norm`` says."""
        if self.config.adversarial_random <= 0:
            return None
        z = self._random_latents(count)
        norm = running_stats_used if self.config.random_norm == "running" else running_stats_kept
        with torch.set_grad_enabled(with_grad), autocast_for(self.device, self.precision), norm(self.model):
            return self.model.decode(z)

    def _adversarial_term(
        self, recon: torch.Tensor, fit: torch.Tensor, balance_at: torch.Tensor, random_faces: torch.Tensor | None
    ) -> torch.Tensor:
        """The decoder's adversarial loss on ``recon`` (which may be empty), weighed by ``adversarial_recon``, and on
        ``random_faces``, weighed by ``adversarial_random``, scaled so its gradient at ``balance_at`` (the output
        layer, or μ when the encoder trains alone) is ``adversarial_weight`` times the reconstruction's."""
        with autocast_for(self.device, self.precision):
            fooled = 0.0
            if len(recon) and self.config.adversarial_recon > 0:
                fooled = self.config.adversarial_recon * generator_loss(self.discriminator(recon).float())
            if random_faces is not None:
                random_score = generator_loss(self.discriminator(random_faces).float())
                fooled = fooled + self.config.adversarial_random * random_score
        return self.config.adversarial_weight * adaptive_weight(fit, fooled, balance_at) * fooled

    def _feature_matching_term(
        self, recon: torch.Tensor, x: torch.Tensor, fit: torch.Tensor, balance_at: torch.Tensor
    ) -> torch.Tensor:
        """How far the discriminator's features of ``recon`` are from those of ``x``, face by face, scaled so its
        gradient at ``balance_at`` is ``feature_matching`` times the reconstruction's."""
        with autocast_for(self.device, self.precision):
            with torch.no_grad():
                real = self.discriminator.features(x)
            fake = self.discriminator.features(recon)
        differs = feature_matching_loss([r.float() for r in real], [f.float() for f in fake])
        return self.config.feature_matching * adaptive_weight(fit, differs, balance_at) * differs

    def _attribute_term(
        self, recon: torch.Tensor, x: torch.Tensor, fit: torch.Tensor, balance_at: torch.Tensor
    ) -> torch.Tensor:
        """How far the frozen classifier's reading of ``recon`` is from its reading of ``x``, scaled so its gradient
        at ``balance_at`` is ``attribute_weight`` times the reconstruction's."""
        differs = attribute_consistency(self.judge, recon, x)
        return self.config.attribute_weight * adaptive_weight(fit, differs, balance_at) * differs

    def _readout_term(self, mu: torch.Tensor, x: torch.Tensor, fit: torch.Tensor) -> torch.Tensor:
        """How far a linear read-out of ``mu`` is from the frozen classifier's reading of ``x``, scaled so its
        gradient at μ is ``latent_readout_weight`` times the reconstruction's."""
        differs = readout_divergence(self.readout, self.judge, mu, x)
        return self.config.latent_readout_weight * adaptive_weight(fit, differs, mu) * differs

    def _readout_step(self, lr: float) -> None:
        """The read-out learns from the same backward pass (its gradient was left by ``total.backward()``)."""
        for group in self.readout_optimizer.param_groups:
            group["lr"] = lr
        self.readout_optimizer.step()
        self.readout_optimizer.zero_grad(set_to_none=True)

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor, lr: float) -> None:
        for group in self.disc_optimizer.param_groups:
            group["lr"] = lr
        with autocast_for(self.device, self.precision):
            loss = discriminator_loss(self.discriminator(real).float(), self.discriminator(fake).float())
        self.disc_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.disc_optimizer.step()

    def _end_epoch(self, epoch: int) -> None:
        cfg = self.config
        n = max(self.partial_sums["n"], 1)
        val = evaluate(self.kept_model, self.data, self.val_idx, cfg.beta, device=self.device)
        row = {
            "epoch": epoch + 1,
            "train_loss": self.partial_sums["loss"] / n,
            "train_recon": self.partial_sums["recon"] / n,
            "train_kl": self.partial_sums["kl"] / n,
            "val_loss": val["loss"],
            "val_recon": val["recon"],
            "val_kl": val["kl"],
            "val_ssim": val["ssim"],
            "val_psnr": val["psnr"],
            "active_units": val["active_units"],
            "beta": warmup_beta(cfg.beta, epoch + 1, cfg.warmup_epochs),
            "lr": self._scheduler_lr(epoch + 1, 0),
        }
        self.history.append(row)
        is_best = val["loss"] < self.best_val  # validation loss always uses the full β
        if is_best:
            self.best_val = val["loss"]
        preview = self._preview()
        # the epoch's wall time: its steps, validation and preview (time spent paused is left out)
        row["seconds"] = round(time.perf_counter() - self._epoch_t0 - self._paused_s, 3)
        self.partial_sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0, "n": 0}
        if self.rank == 0:
            extra = {"latent_kl": val["kl_per_dim"]}
            # last.pt last: it is what a resume starts from, so a kill before it repeats this epoch in full
            if is_best:
                self._save(self.best_path, epoch + 1, 0, extra)
            self._write_metrics()
            self.step_log.save(self.out_dir)
            self._save(self.last_path, epoch + 1, 0, extra)
            save_grid(self.out_dir / preview_name(epoch + 1), preview, nrow=8)
            self.on_epoch(EpochEvent(epoch + 1, cfg.epochs, row, preview, is_best))
        self._train_mode()

    def _train_mode(self) -> None:
        """Training mode; with ``encoder_only`` the encoder alone, so the decoder's batch norms keep their
        statistics and the model decodes μ, unsampled; with ``decoder_only`` the decoder alone (the encoder's batch
        norms keep theirs; z is still sampled, by the encoder's fixed log σ²)."""
        if self.config.encoder_only:
            self.model.eval()
            self.model.encoder.train()
        elif self.config.decoder_only:
            self.model.train()
            self.model.encoder.eval()
        else:
            self.model.train()

    @torch.no_grad()
    def _preview(self) -> torch.Tensor:
        model = self.kept_model
        model.eval()
        x = self.data.batch(self.val_idx[:8]).to(self.device)
        with autocast_for(self.device):
            recon, _, _ = model(x)
            samples = model.decode(self.preview_z.to(self.device))
        return torch.cat([grid_row(x, 8), grid_row(recon.float(), 8), samples.float()]).cpu()  # rows of 8

    def _write_metrics(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.history)
        with atomic_write(self.out_dir / METRICS, "w") as handle:
            handle.write(buffer.getvalue())

    def _finalise_best(self) -> None:
        """Add the fitted latent prior and (for labelled data) attribute directions to ``best.pt``."""
        ckpt = checkpoint.load(self.best_path, self.device)
        extras = latent_statistics(ckpt.model, self.data, self.train_idx, self.device)
        checkpoint.save(
            self.best_path,
            ckpt.model,
            history=ckpt.history,
            dataset=ckpt.dataset,
            training=ckpt.training,
            latent_kl=ckpt.latent_kl,
            **extras,
        )
        self.log(
            f"added a fitted latent prior and {len(extras['directions'])} attribute directions to {self.best_path}"
        )


def judged_faces(data: FaceCache, skipped: list[str]) -> np.ndarray:
    """Per face of ``data``, whether the patch discriminator may see it: False in the folders named in ``skipped``
    (soft faces it would learn to call real), which train the reconstruction terms only."""
    names = list(getattr(data, "names", []))
    unknown = [name for name in skipped if name not in names]
    if unknown:
        raise ValueError(
            f"adversarial_skip: {', '.join(unknown)} is not one of the training folders"
            + (f" ({', '.join(names)})" if names else " (it needs several --data folders)")
        )
    if set(names) <= set(skipped):
        raise ValueError("adversarial_skip names every training folder: the discriminator would see no real faces")
    judged = np.ones(len(data), dtype=bool)
    for name in skipped:
        part = names.index(name)
        judged[data.offsets[part] : data.offsets[part + 1]] = False
    return judged


def latent_statistics(model, data: FaceCache, indices, device="cpu") -> dict:
    """What a finished model carries about its training encodings: a fitted mixture prior and attribute directions."""
    mu, _ = encode_all(model, data, indices, device=device)
    directions = compute_directions(mu, data.label_tensor(indices)) if data.has_labels else {}
    return {"latent_prior": fit_mixture(mu), "directions": directions}
