"""DistributedDataParallel on the CPU with the gloo backend and two processes."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.helpers import write_good_faces
from vae.data.cache import open_folder
from vae.model import checkpoint

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="no gloo backend")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, folder, cache_dir, out, batch_size):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), FACE_EXPLORER_CACHE=cache_dir)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    from vae.model.network import VAEConfig
    from vae.train.trainer import TrainConfig, Trainer

    data = open_folder(folder, 64, workers=1)
    config = TrainConfig(
        model=VAEConfig(latent_dim=4, base_channels=8), epochs=2, batch_size=batch_size, device="cpu", seed=1
    )
    trainer = Trainer(config, data, out)
    trainer.run()
    params = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    torch.save(params, Path(out) / f"params_rank{rank}.pt")
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_end_with_identical_weights(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 31, size=64)
    cache_dir = str(tmp_path / "cache")
    os.environ["FACE_EXPLORER_CACHE"] = cache_dir
    extra_seed = 100
    while len(open_folder(folder, 64, workers=1).split()[0]) % 2 == 0:
        write_good_faces(folder, 1, seed=extra_seed, size=64)
        extra_seed += 1
    train_size = len(open_folder(folder, 64, workers=1).split()[0])
    assert train_size % 2 == 1
    # An odd split and a batch equal to the smaller share: split naively, one rank would need one more
    # step than the other and wait forever in its all-reduce. Every rank must take the same steps.
    batch_size = (train_size - 1) // 2
    out = tmp_path / "run"
    out.mkdir()
    context = mp.spawn(
        _worker, args=(2, free_port(), str(folder), cache_dir, str(out), batch_size), nprocs=2, join=False
    )
    deadline = time.monotonic() + 240
    while not context.join(timeout=5):  # False while a rank is still running
        if time.monotonic() > deadline:
            for process in context.processes:
                process.terminate()
            pytest.fail("the two ranks did not finish (a rank waiting in an all-reduce the other never joined?)")
    a = torch.load(out / "params_rank0.pt")
    b = torch.load(out / "params_rank1.pt")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (out / "last.pt").exists() and (out / "best.pt").exists()
    assert checkpoint.load(out / "last.pt").epochs == 2


def test_torchrun_cli(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 24, size=64)
    env = {**os.environ, "FACE_EXPLORER_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={free_port()}",
            str(ROOT / "train_cli.py"),
            "--data",
            str(folder),
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--latent-dim",
            "4",
            "--base-channels",
            "8",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "× 2 processes" in proc.stderr
    assert checkpoint.load(tmp_path / "run" / "best.pt").epochs == 1
