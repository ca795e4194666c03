"""What a training run is: :class:`TrainConfig`, the default recipe, and the settings that offer its values.

:data:`SETTINGS` is the one list of the settings ``train_cli.py`` and the Train tab offer; every default is
read from :data:`DEFAULT_MODEL_RECIPE` (the dataclass's field defaults plus the recipe's own choices).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from ..common.cli_args import SEED_MAX
from ..model.metrics import PRECISIONS
from ..model.network import CONFIG_LIMITS, UPSAMPLING, VAEConfig

# How batch norm treats the random faces of adversarial_random: "batch" normalises them by their own statistics (the
# running statistics left as real faces set them), "running" by the running statistics, as the app draws them.
RANDOM_NORMS = ("batch", "running")
# Where the latents of those random faces come from: "normal" N(0, 0.8²·I), "fitted" the --init-from model's fitted
# mixture prior at the app's temperature, as the app's Random draws them.
RANDOM_SOURCES = ("normal", "fitted")


@dataclass
class TrainConfig:
    """One run: the architecture (``model``) and the training settings (stored in checkpoints and ``config.json``)."""

    model: VAEConfig = field(default_factory=VAEConfig)
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    beta: float = 1.0
    warmup_epochs: float = 1.0
    free_bits: float = 0.0
    weight_decay: float = 0.0  # >0: AdamW's decoupled weight decay, a regulariser against memorising the training faces
    cosine: bool = True
    grad_clip: float = 1000.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # "auto": bf16 on CUDA and on CPUs with native bf16, else fp32 (training_precision)
    holdout: int = 0  # >0: validate on (never train on) the N faces of vae.data.folder.holdout_split; 0: 5 % split
    flip: bool = False  # mirror a random half of each training batch left to right (augmentation)
    recolour: float = 0.0  # >0: swap hair and skin colours for others of the Cartoon Set's palettes (vae.data.palette)
    ssim_weight: float = 0.0  # >0: add weight · pixels · (1 − SSIM) per image to the squared error (vae.model.loss)
    l1_weight: float = 0.0  # >0: add weight · Σ|error| per image to the squared error (vae.model.loss)
    adversarial_weight: float = 0.0  # >0: a patch discriminator's term, adaptively weighted (vae.model.adversarial)
    adversarial_start: float = 1.0  # the epoch from which the decoder takes the adversarial term
    adversarial_random: float = 0.0  # >0: the adversarial term on random faces too, weighed this much to recon's 1
    adversarial_recon: float = 1.0  # reconstructions' weight in the adversarial term against adversarial_random's
    feature_matching: float = 0.0  # >0: match the discriminator's features of each real face (adversarial)
    adversarial_skip: list[str] = field(default_factory=list)  # folders (by name) the discriminator never sees
    random_norm: str = "batch"  # how batch norm treats those random faces: RANDOM_NORMS
    random_from: str = "normal"  # where their latents come from: RANDOM_SOURCES
    attribute_weight: float = 0.0  # >0: keep what a frozen classifier reads (vae.model.attribute_loss)
    attribute_classifier: str = ""  # the classifier file for attribute_weight (python -m vae.measure.fidelity train)
    latent_readout_weight: float = 0.0  # >0: μ keeps, linearly, what the frozen classifier reads (attribute_loss)
    pixel_weights: str = ""  # a map weighing the squared error pixel by pixel (python -m vae.measure.pixel_weights)
    encoder_only: bool = False  # train the encoder to reconstruct from μ, the decoder and log σ² head fixed
    decoder_only: bool = False  # train the decoder alone, on the fixed encoder's latents
    decoder_tail: int = 0  # >0, with decoder_only: train only the decoder's last N stages (and its output layer)
    average_decay: float = 0.0  # >0: evaluate and save an exponential moving average of the weights (this decay)
    init_from: str = (
        ""  # a checkpoint whose matching layers start a new run (vae.model.grow), e.g. the 64×64 model for a 128 one
    )

    def __post_init__(self):
        if not isinstance(self.model, VAEConfig):
            raise ValueError(f"invalid model: expected a VAEConfig, got {type(self.model).__name__}")
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "beta": self.beta >= 0,
            "warmup_epochs": self.warmup_epochs >= 0,
            "free_bits": self.free_bits >= 0,
            "weight_decay": self.weight_decay >= 0,
            "holdout": self.holdout >= 0,
            "grad_clip": self.grad_clip >= 0,
            "recolour": 0 <= self.recolour <= 1,
            "ssim_weight": self.ssim_weight >= 0,
            "l1_weight": self.l1_weight >= 0,
            "adversarial_weight": self.adversarial_weight >= 0,
            "adversarial_start": self.adversarial_start >= 0,
            "adversarial_random": 0 <= self.adversarial_random <= 10,
            "adversarial_recon": 0 <= self.adversarial_recon <= 10,
            "feature_matching": self.feature_matching >= 0,
            "random_norm": self.random_norm in RANDOM_NORMS,
            "random_from": self.random_from in RANDOM_SOURCES,
            "attribute_weight": self.attribute_weight >= 0,
            "latent_readout_weight": self.latent_readout_weight >= 0,
            "average_decay": 0 <= self.average_decay < 1,
            "decoder_tail": isinstance(self.decoder_tail, int) and self.decoder_tail >= 0,
            "precision": self.precision in PRECISIONS,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid {bad[0]}: {getattr(self, bad[0])!r}")
        for name in ("attribute_weight", "latent_readout_weight"):
            if getattr(self, name) > 0 and not self.attribute_classifier:
                raise ValueError(f"{name} needs an attribute_classifier (python -m vae.measure.fidelity train)")
        if self.adversarial_recon != 1 and (self.adversarial_weight <= 0 or self.adversarial_random <= 0):
            raise ValueError(
                "adversarial_recon needs adversarial_weight and adversarial_random: it weighs reconstructions against "
                "random faces in the adversarial term, whose size the adaptive weight sets"
            )
        if self.adversarial_random > 0 and self.adversarial_weight <= 0:
            raise ValueError("adversarial_random needs adversarial_weight: the discriminator that judges random faces")
        if self.feature_matching > 0 and self.adversarial_weight <= 0:
            raise ValueError("feature_matching needs adversarial_weight: the discriminator whose features it matches")
        if self.adversarial_skip and self.adversarial_weight <= 0:
            raise ValueError("adversarial_skip needs adversarial_weight: the discriminator that skips those folders")
        if self.random_norm != "batch" and self.adversarial_random <= 0:
            raise ValueError("random_norm needs adversarial_random: the random faces it normalises")
        if self.random_from != "normal" and not (self.adversarial_random > 0 and self.init_from):
            raise ValueError("random_from needs adversarial_random and init_from: the model whose prior it draws from")
        if self.adversarial_random > 0 and self.encoder_only:
            raise ValueError("adversarial_random trains the decoder, which encoder_only keeps fixed")
        if self.decoder_only and self.latent_readout_weight > 0:
            raise ValueError("latent_readout_weight steers the encoder, which decoder_only keeps fixed")
        if self.decoder_only and (self.encoder_only or not self.init_from):
            raise ValueError("decoder_only needs init_from (the trained model whose encoder stays) and no encoder_only")
        if self.decoder_tail and not self.decoder_only:
            raise ValueError("decoder_tail needs decoder_only: it trains the last stages of the decoder alone")
        if self.encoder_only and not self.init_from:
            raise ValueError("encoder_only needs init_from: the trained model whose decoder stays as it is")
        if self.lr * self.weight_decay >= 1:
            raise ValueError(
                f"invalid weight_decay: {self.weight_decay:g} with lr {self.lr:g} (their product must be "
                "below 1: each step multiplies the weights by 1 − lr·weight_decay)"
            )

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """From :func:`dataclasses.asdict` output; older flat dicts (architecture keys at the top) are read too."""
        names = {f.name for f in fields(cls)} - {"model"}
        arch_names = {f.name for f in fields(VAEConfig)}
        arch = (
            data.get("model")
            if isinstance(data.get("model"), dict)
            else {k: v for k, v in data.items() if k in arch_names}
        )
        return cls(model=VAEConfig.from_dict(arch), **{k: v for k, v in data.items() if k in names})

    def changes_from(self, other: "TrainConfig") -> list[str]:
        """``name=old → new`` for each setting that differs from ``other`` (the architecture field by field)."""
        mine, theirs = asdict(self), asdict(other)
        changed = [
            f"{k}={theirs['model'][k]} → {v}" for k, v in mine.pop("model").items() if theirs["model"].get(k) != v
        ]
        theirs.pop("model")
        return changed + [f"{k}={theirs.get(k)} → {v}" for k, v in mine.items() if theirs.get(k) != v]


# The shipped 64×64 model's architecture and base recipe (README, "The default models"): a low β for sharp faces,
# a full-resolution decoder stage, decoder and encoder twice the base width, and the fitted mixture prior that every
# checkpoint gets to keep Random on faces. The app's Train tab and train_cli.py start from it.
DEFAULT_MODEL_RECIPE = TrainConfig(
    model=VAEConfig(image_size=64, latent_dim=32, full_res_channels=16, decoder_width=2, encoder_width=2),
    batch_size=64,
    lr=1e-3,
    beta=0.02,
)

# The settings whose change makes a resumed run train something else (refused without --force).
TRAINING_SETTINGS = (
    "batch_size",
    "lr",
    "beta",
    "warmup_epochs",
    "free_bits",
    "cosine",
    "grad_clip",
    "seed",
    "precision",
    "holdout",
    "flip",
    "recolour",
    "weight_decay",
    "ssim_weight",
    "l1_weight",
    "adversarial_weight",
    "adversarial_start",
    "adversarial_random",
    "adversarial_recon",
    "feature_matching",
    "adversarial_skip",
    "random_norm",
    "random_from",
    "attribute_weight",
    "attribute_classifier",
    "latent_readout_weight",
    "pixel_weights",
    "encoder_only",
    "decoder_only",
    "decoder_tail",
    "average_decay",
)


@dataclass(frozen=True)
class Setting:
    """One setting as ``train_cli.py`` (``--name-with-dashes``) and the Train tab offer it, with its allowed range.

    ``name`` is a :class:`TrainConfig` field, or a :class:`~vae.model.network.VAEConfig` one when ``architecture``;
    ``help`` may say ``%(default)s``. A setting with ``choices`` takes one of them; others a number in
    [low, high] (whole when the default is; ``(low, high]`` without ``low_inclusive``).
    """

    name: str
    help: str
    low: float = 0
    high: float = 0
    low_inclusive: bool = True
    choices: tuple = ()
    architecture: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def default(self, recipe: TrainConfig = DEFAULT_MODEL_RECIPE):
        """This setting's value in ``recipe`` (the default recipe unless told)."""
        return getattr(recipe.model if self.architecture else recipe, self.name)


def _arch(name: str, help: str) -> Setting:
    return Setting(name, help, *CONFIG_LIMITS[name], architecture=True)


SETTINGS = (
    Setting("epochs", "number of epochs (default %(default)s)", 1, 100_000),
    Setting("batch_size", "images per step and process (default %(default)s)", 1, 65_536),
    Setting("lr", "learning rate (default %(default)s)", 0.0, 10.0, low_inclusive=False),
    Setting(
        "beta",
        "weight of the KL term; the loss is per-image summed squared error + beta·KL "
        "(default %(default)s, the default model's: sharp faces)",
        0.0,
        1e4,
    ),
    Setting(
        "warmup_epochs",
        "ramp beta from 0 over this many epochs, against posterior collapse (default %(default)s)",
        0.0,
        100_000.0,
    ),
    Setting(
        "free_bits",
        "minimum KL per latent dimension in nats before it is penalised (default %(default)s: off)",
        0.0,
        100.0,
    ),
    Setting(
        "weight_decay",
        "AdamW's decoupled weight decay, against memorising the training faces (default %(default)s: plain Adam)",
        0.0,
        10.0,
    ),
    Setting(
        "recolour",
        "the chance that a training face's hair colour, and independently its skin colour, is swapped for another "
        "of the Cartoon Set's (vae.data.palette): real-looking faces in new combinations (default %(default)s: off)",
        0.0,
        1.0,
    ),
    Setting(
        "ssim_weight",
        "add weight·pixels·(1 − SSIM) per image to the squared error: a loss that keeps structure "
        "(default %(default)s: off)",
        0.0,
        100.0,
    ),
    Setting(
        "l1_weight",
        "add weight·Σ|error| per image to the squared error: L1's pull does not fade as an error shrinks, "
        "so outlines are drawn where they are, not smeared around them (default %(default)s: off)",
        0.0,
        100.0,
    ),
    Setting(
        "adversarial_weight",
        "weight of a patch discriminator's term, balanced against the reconstruction's gradient "
        "(VQGAN's recipe; one process only; default %(default)s: off)",
        0.0,
        100.0,
    ),
    Setting(
        "adversarial_start",
        "the epoch from which the decoder takes the adversarial term; the discriminator trains from the "
        "start (default %(default)s)",
        0.0,
        100_000.0,
    ),
    Setting(
        "adversarial_random",
        "with --adversarial-weight: the discriminator also judges faces decoded from random latents (N(0, 0.8²·I), "
        "the app's Random temperature), and the decoder's adversarial term takes them in with this weight against "
        "its reconstructions' 1, so Random faces are drawn crisp too (default %(default)s: off)",
        0.0,
        10.0,
    ),
    Setting(
        "adversarial_recon",
        "with --adversarial-weight and --adversarial-random: how much the decoder's adversarial term weighs its "
        "reconstructions against the random faces' W (the adaptive weight sets the term's size, so only the ratio "
        "counts); 0 judges the decoder on random faces alone, while the discriminator still learns from "
        "reconstructions; in the one run measured, at 64 px, worse on every count (docs/model.md) "
        "(default %(default)s)",
        0.0,
        10.0,
    ),
    Setting(
        "feature_matching",
        "with --adversarial-weight: weight of a term that pulls each reconstruction's discriminator features "
        "towards its own face's (pix2pixHD's feature matching: crisp edges where that face has them), balanced "
        "against the reconstruction's gradient like the adversarial term (default %(default)s: off)",
        0.0,
        100.0,
    ),
    Setting(
        "random_norm",
        "with --adversarial-random: 'batch' normalises each batch of random faces by its own statistics (the "
        "running statistics left as real faces set them), 'running' by the running statistics, as the app draws "
        "them; in the one run measured, 'running' made random faces and reconstructions much worse "
        "(docs/model.md) (default %(default)s)",
        choices=RANDOM_NORMS,
    ),
    Setting(
        "random_from",
        "with --adversarial-random and --init-from: where the random faces' latents come from: 'normal' N(0, "
        "0.8²·I), or 'fitted' the --init-from model's fitted mixture prior at the app's temperature, as the app's "
        "Random draws them (default %(default)s)",
        choices=RANDOM_SOURCES,
    ),
    Setting(
        "attribute_weight",
        "weight of a term that keeps what a frozen attribute classifier (--attribute-classifier) reads off each "
        "face, balanced against the reconstruction's gradient like the adversarial term (default %(default)s: off)",
        0.0,
        100.0,
    ),
    Setting(
        "latent_readout_weight",
        "weight of a term that asks μ to keep, linearly, what a frozen attribute classifier (--attribute-classifier) "
        "reads off each face: a linear read-out of μ learns the classifier's reading beside the model, and its "
        "divergence is balanced against the reconstruction's gradient at μ (default %(default)s: off)",
        0.0,
        100.0,
    ),
    Setting(
        "decoder_tail",
        "with --decoder-only: train only the decoder's last N upsampling stages and its output layer, its coarser "
        "stages fixed, e.g. a crisp pass that may sharpen edges but not move shapes (default %(default)s: the whole "
        "decoder)",
        0,
        16,
    ),
    Setting(
        "average_decay",
        "evaluate, preview and save an exponential moving average of the weights, updated after every step with "
        "this decay (e.g. 0.999: an average over the last ~1,000 steps), not the weights as the last step left "
        "them; a resumed run continues both (default %(default)s: off)",
        0.0,
        0.99999,
    ),
    Setting(
        "holdout",
        "validate on the N images whose file names hash lowest (vae.data.folder.holdout_split) and never train "
        "on them; every script holds out the same faces (default %(default)s: a 5%% hash split)",
        0,
        100_000_000,
    ),
    Setting("seed", "random seed; runs on the CPU are reproducible (default %(default)s)", 0, SEED_MAX),
    _arch("latent_dim", "latent dimensions (default %(default)s)"),
    Setting("image_size", "training resolution (default %(default)s)", choices=(64, 128), architecture=True),
    _arch("base_channels", "width of the first conv layer (default %(default)s)"),
    _arch("residual_blocks", "residual blocks at 4×4 (default %(default)s)"),
    _arch(
        "full_res_channels",
        "channels of an extra decoder stage at full resolution before the RGB output; it draws the "
        "thin outlines (default %(default)s; 0: none)",
    ),
    _arch("decoder_width", "the decoder's channels as a multiple of the base channels (default %(default)s)"),
    _arch(
        "decoder_min_channels",
        "no decoder stage has fewer channels than this: widens the stages at high resolution alone; with "
        "--init-from a narrower model, they are widened so it starts drawing the same faces (default %(default)s: "
        "off)",
    ),
    _arch(
        "encoder_width",
        "the encoder's channels as a multiple of the base channels; with --init-from a narrower model, its "
        "encoder widened so it starts with the same encodings (default %(default)s)",
    ),
    Setting(
        "encoder_size",
        "with --image-size 128: 64 has the encoder read each face brought down to 64 px, as a 64 px model does, "
        "so that --init-from a 64 px model starts with its encoder whole (default %(default)s: the image size)",
        choices=(0, 64),
        architecture=True,
    ),
    Setting(
        "upsample",
        "how the decoder doubles the resolution: 'transposed' convolutions, or 'resize' (nearest "
        "neighbour, then a 3×3 convolution: no checkerboard patterns) (default %(default)s)",
        choices=UPSAMPLING,
        architecture=True,
    ),
    Setting(
        "device",
        "auto uses CUDA (bf16 mixed precision) when present, else the CPU (default %(default)s)",
        choices=("auto", "cpu", "cuda"),
    ),
    Setting(
        "precision",
        "auto: bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16 or AMX, about 1.7x "
        "faster there), fp32 on other CPUs, which emulate bf16 slowly (default %(default)s)",
        choices=PRECISIONS,
    ),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


def default(name: str):
    """The default recipe's value of the setting ``name``."""
    return SETTINGS_BY_NAME[name].default()


def config_with(values: dict, recipe: TrainConfig = DEFAULT_MODEL_RECIPE, **other) -> TrainConfig:
    """``recipe`` with the :data:`SETTINGS` found in ``values`` (other keys are ignored) and the fields ``other``."""
    chosen = [s for s in SETTINGS if s.name in values]
    model = replace(recipe.model, **{s.name: values[s.name] for s in chosen if s.architecture})
    return replace(recipe, model=model, **{s.name: values[s.name] for s in chosen if not s.architecture}, **other)
