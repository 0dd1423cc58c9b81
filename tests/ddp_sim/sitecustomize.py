"""Multi-GPU (DDP) training simulated on CPUs, for the tests: on with ``YOLO_DDP_SIM=1`` and this
folder on ``PYTHONPATH`` (it then loads in every process: the launcher and each worker).

What is real: Ultralytics' own launch. ``BaseTrainer.__init__`` sees two devices (``device="0,1"``) and
decides to launch workers; ``train()`` runs Ultralytics' real ``generate_ddp_command``, which writes
the trainer's state (class, args, model and, since 8.4, ``trainer.callbacks``, with cloudpickle) and
the worker script; ``torch.distributed.run`` starts two worker interpreters, each of which loads that
state and rebuilds the trainer as Ultralytics does, and trains in a real process group.

What is simulated, from the point where CUDA is needed:
- ``select_device`` answers ``cuda:0`` for a multi-device string (so the trainer counts two devices)
  without touching CUDA; a validation on its own gets the CPU;
- ``BaseTrainer._setup_ddp`` puts each worker on the CPU and joins a ``gloo`` process group instead
  of ``nccl`` on ``cuda:<rank>``;
- ``DistributedDataParallel`` gets ``device_ids=None`` for a model on the CPU;
- a rank's final validation, which asks for its CUDA device, gets the CPU.

Not proved: NCCL, CUDA devices, GPU memory, several machines.
"""

import os
import sys


def _simulate() -> None:
    import wrapt

    def multi_device(device: object) -> bool:
        return isinstance(device, str) and "," in device

    def on_trainer(module) -> None:
        import torch
        import torch.distributed as dist
        from torch import nn

        real_select = module.select_device

        def select_device(device="", *args, **kwargs):
            return torch.device("cuda", 0) if multi_device(device) else real_select(device, *args, **kwargs)

        module.select_device = select_device

        def setup_ddp(self, *args, **kwargs) -> None:
            rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            self.device = torch.device("cpu")
            if hasattr(self, "accelerator"):
                self.accelerator = None
            dist.init_process_group(backend="gloo", rank=rank, world_size=world)
            print(f"DDP_SIM_WORKER rank={rank} world={world} pid={os.getpid()}", flush=True)

        module.BaseTrainer._setup_ddp = setup_ddp

        class CpuDistributedDataParallel(nn.parallel.DistributedDataParallel):
            def __init__(self, model, *args, device_ids=None, **kwargs):
                on_cpu = next(model.parameters()).device.type == "cpu"
                super().__init__(model, *args, device_ids=None if on_cpu else device_ids, **kwargs)

        nn.parallel.DistributedDataParallel = CpuDistributedDataParallel

    def on_validator(module) -> None:
        import torch

        real_select = module.select_device

        def select_device(device="", *args, **kwargs):
            return torch.device("cpu") if multi_device(device) else real_select(device, *args, **kwargs)

        module.select_device = select_device

        class NoCudaBackend:  # a DDP rank's final validation asks for "its" CUDA device (8.4)
            @staticmethod
            def current_device() -> int:
                return int(os.environ.get("LOCAL_RANK", 0))

        if hasattr(module, "get_torch_device_backend"):
            module.get_torch_device_backend = lambda device_type: NoCudaBackend
        real_backend = module.AutoBackend

        def auto_backend(*args, device=None, **kwargs):
            if isinstance(device, torch.device) and device.type == "cuda" and not torch.cuda.is_available():
                device = torch.device("cpu")
            return real_backend(*args, device=device, **kwargs)

        module.AutoBackend = auto_backend

    wrapt.register_post_import_hook(on_trainer, "ultralytics.engine.trainer")
    wrapt.register_post_import_hook(on_validator, "ultralytics.engine.validator")


if os.environ.get("YOLO_DDP_SIM") == "1":
    try:
        _simulate()
    except Exception as exc:  # a broken simulation must show, not silently train on one process
        sys.stderr.write(f"DDP simulation failed to load: {type(exc).__name__}: {exc}\n")
        raise
