"""The training loop: CE + LBCL + DBCL, two-stage text schedule, dev selection, atomic per-epoch state, resume;
one process or several under torchrun (:mod:`clmlf.train.distributed`)."""

from __future__ import annotations

import logging
import math
import os
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from clmlf.contracts import is_frozen
from clmlf.errors import SpecError
from clmlf.losses.modules import CLMLFLoss, CrossEntropyLoss, DBCLLoss, LBCLLoss, LossOutput

from clmlf.model import CLMLF
from clmlf.outputs import CLMLFOutput
from clmlf.spec import ExperimentSpec, LossesSpec
from clmlf.train.distributed import Distributed, loader_over, process_group
from clmlf.train.evaluate import Evaluation, autocast, evaluate
from clmlf.train.inputs import model_inputs
from clmlf.train.metrics import evaluation_metrics
from clmlf.train.optim import build_optimizer, build_scheduler, set_text_encoder_trainable
from clmlf.train.pipeline import Inputs, build_inputs
from clmlf.train.run_dir import RunDir

logger = logging.getLogger("clmlf")


def length_grouped_order(samples, batch_size: int, generator: torch.Generator, window: int = 50) -> torch.Tensor:
    """A shuffled order whose batches hold texts of similar length (less padding): shuffle, sort each window of
    ``window`` batches by word count, cut into batches, shuffle the batches."""
    order = torch.randperm(len(samples), generator=generator)
    lengths = torch.tensor([len(samples[i].text.split()) for i in order.tolist()])
    span = batch_size * window
    regrouped = torch.cat([
        order[start:start + span][lengths[start:start + span].argsort(stable=True)] for start in range(0, len(order), span)
    ])
    batches = list(regrouped.split(batch_size))
    return torch.cat([batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()])


def select_device(choice: str) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device: cuda requested but no CUDA device is visible; use auto or cpu")
    return torch.device("cuda" if choice in ("auto", "cuda") and torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


POSTFIX_EVERY = 25
"""Training steps between updates of the progress bar's running loss means (each update synchronises with the GPU)."""


@dataclass
class LossTerms:
    """Running sums of the loss terms over an epoch (for logging), kept as 0-d tensors where the terms live: adding
    a step reads nothing back to the host (no GPU synchronisation); :meth:`means` does."""

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    count: int = 0

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        for name, value in terms.items():
            value = value.detach().double()
            self.sums[name] = self.sums[name] + value if name in self.sums else value
        self.count += 1

    def means(self) -> dict[str, float]:
        return {name: float(total) / max(self.count, 1) for name, total in self.sums.items()}


class TrainingForward(nn.Module):
    """One training forward: ``model`` on the original view and, when DBCL is on, the augmented view's projection
    z_aug (B, P), both views in one pass (:meth:`CLMLF.forward_pair`). A single call per backward is what
    DistributedDataParallel expects."""

    def __init__(self, model: CLMLF) -> None:
        super().__init__()
        self.model = model

    def forward(self, original: dict[str, Tensor], augmented: dict[str, Tensor] | None) -> tuple[CLMLFOutput, Tensor | None]:
        if augmented is None:
            return self.model(**original), None
        output, output_aug = self.model.forward_pair(original, augmented)
        return output, output_aug.z


class Trainer:
    """Train ``spec`` into ``run`` (a :class:`RunDir`); ``fit(resume=True)`` continues from the last finished epoch.
    ``parallel``/``device``: this process's rank and device in a torchrun job (default: a single process)."""

    def __init__(self, spec: ExperimentSpec, run: RunDir, progress: bool = True,
                 parallel: Distributed = Distributed(), device: torch.device | None = None) -> None:
        parallel.check_batch_size(spec.train.batch_size)
        self.spec = spec
        self.run = run
        self.parallel = parallel
        self.progress = progress and parallel.is_main
        self.device = device or select_device(spec.train.device)
        if spec.train.num_threads:
            torch.set_num_threads(spec.train.num_threads)
        if spec.train.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        seed_everything(spec.train.seed)
        self.model = CLMLF.from_spec(spec.model).to(self.device)
        self.criterion = build_criterion(spec.losses, distributed=parallel.enabled)
        with self.parallel.local_main_first():  # one process per node computes the feature caches, the others load them
            self.inputs: Inputs = build_inputs(spec, self.model, self.device, augmented_train=spec.losses.dbcl_weight > 0, progress=self.progress)
        batches = parallel.global_batches(torch.arange(len(self.inputs.loaders["train"].dataset)), spec.train.batch_size)
        steps_per_epoch = math.ceil(len(batches) / spec.train.grad_accumulation)
        self.optimizer = build_optimizer(self.model, spec.train)
        self.ema = weight_average(self.model, spec.train.ema_decay)
        if spec.train.compile:  # after the weight average's copy, which stays eager (it only evaluates)
            self.model.compile_parts(**spec.train.compile_options)
        self.scheduler = build_scheduler(self.optimizer, steps_per_epoch * spec.train.epochs, spec.train)
        self.history: list[dict] = []
        self.best: dict | None = None
        self.start_epoch = 0
        self.earlier_wall_s = 0.0  # wall time of the sessions a resumed run continues

    # ----------------------------------------------------------------------------------------------- losses
    def losses(self, batch: dict, forward: nn.Module) -> LossOutput:
        """CE + LBCL on the original view + DBCL between the original and the augmented view; ``forward`` is a
        :class:`TrainingForward`, possibly wrapped in DDP."""
        augmented = model_inputs(batch, self.device, augmented=True) if self.spec.losses.dbcl_weight > 0 else None
        output, z_aug = forward(model_inputs(batch, self.device), augmented)
        return self.criterion(output.logits.float(), batch["labels"].to(self.device, non_blocking=True), output.z, z_aug)

    # ----------------------------------------------------------------------------------------------- epochs
    def train_epoch(self, epoch: int) -> dict[str, float]:
        spec = self.spec.train
        seed_everything(self.parallel.seed(spec.seed + epoch))  # resume reproduces an uninterrupted run epoch by epoch
        set_text_encoder_trainable(self.model, epoch >= spec.text_freeze_epochs)
        text_frozen = epoch < spec.text_freeze_epochs or is_frozen(self.model.text_encoder)
        loader = self.inputs.train_loader(text_frozen)
        generator = torch.Generator().manual_seed(spec.seed + epoch)
        order = length_grouped_order(loader.dataset.samples, loader.batch_size, generator) if spec.group_by_length else torch.randperm(len(loader.dataset), generator=generator)
        loader.dataset.generator = torch.Generator().manual_seed(self.parallel.seed(spec.seed + 10_000 + epoch))
        batches = loader_over(loader, self.parallel.batches(order, loader.batch_size))
        self.model.train()
        # wrapped anew each epoch: DDP then syncs exactly this epoch's trainable parameters (text stage)
        forward = self.parallel.wrap(TrainingForward(self.model), self.device, idle_heads(self.model, self.spec.losses))
        running = LossTerms()
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{spec.epochs}", disable=not self.progress, unit="batch")
        for step, batch in enumerate(bar):
            update = (step + 1) % spec.grad_accumulation == 0 or step + 1 == len(batches)
            with self.parallel.sync(forward, now=update):
                with autocast(self.device, spec.bf16_on(self.device.type)):
                    loss = self.losses(batch, forward)
                (loss.total / spec.grad_accumulation).backward()
            if update:
                if spec.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), spec.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.ema is not None:
                    self.ema.update_parameters(self.model)
            running.add({"loss": loss.total.detach(), **loss.terms})
            if self.progress and step % POSTFIX_EVERY == 0:  # reading the means waits for the device: not every step
                bar.set_postfix({name: f"{value:.3f}" for name, value in running.means().items()})
        return running.means()

    @property
    def evaluated_model(self) -> CLMLF:
        """What dev selection, the checkpoint and the test metrics use: the weight average when kept."""
        return self.model if self.ema is None else self.ema.module

    def evaluate_split(self, split: str) -> Evaluation:
        """Every rank predicts its slice of ``split`` with rank 0's model; the gathered predictions give the
        single-process metrics."""
        dataset = self.inputs.splits
        self.parallel.share_buffers(self.evaluated_model)
        local = evaluate(self.evaluated_model, self.parallel.shard_loader(self.inputs.loaders[split]), self.device, dataset.num_classes,
                         dataset.metric, self.spec.train.bf16_on(self.device.type), description=split, progress=self.progress)
        if not self.parallel.enabled:
            return local
        joined = self.parallel.concat(local)
        return replace(joined, metrics=evaluation_metrics(joined.labels, joined.probabilities, dataset.num_classes, dataset.metric))

    def selection_score(self, metrics: dict[str, float]) -> float:
        """Higher is better: accuracy or F1 as they are, the dev cross-entropy negated."""
        name = self.spec.train.select_metric
        return -metrics[name] if name == "cross_entropy" else metrics[name]

    # ----------------------------------------------------------------------------------------------- fit
    def fit(self, resume: bool = False) -> dict:
        """Train every remaining epoch; returns the final metrics dict (also in ``metrics.json``)."""
        started = time.perf_counter()
        if resume:
            self.restore()
        if self.parallel.is_main:
            self.run.write_config(self.spec)
        for epoch in range(self.start_epoch, self.spec.train.epochs):
            epoch_start = time.perf_counter()
            train_terms = self.train_epoch(epoch)
            dev = self.evaluate_split("dev").metrics
            record = {"epoch": epoch + 1, "train": train_terms, "dev": dev, "seconds": time.perf_counter() - epoch_start}
            self.history.append(record)
            improved = self.best is None or self.selection_score(dev) > self.selection_score(self.best["dev"])
            if improved:
                self.best = {"epoch": epoch + 1, "dev": dev}
            if self.parallel.is_main:  # every rank holds the same weights; rank 0 writes the run directory
                self.run.save_state(self.model, self.optimizer, self.scheduler, epoch + 1, self.history, self.best, self.ema,
                                    best_model=self.evaluated_model if improved else None)
                self.run.write_metrics(self.summary(None, time.perf_counter() - started))
            logger.info("epoch %d: %s | dev %s", epoch + 1, _fmt(train_terms), _fmt(dev))
        return self.finish(time.perf_counter() - started)

    def finish(self, seconds: float) -> dict:
        """Reload the best-dev checkpoint, evaluate test there, write metrics.json and the plots."""
        self.parallel.barrier()  # the checkpoint rank 0 wrote is complete
        best = CLMLF.from_pretrained(self.run.checkpoint, map_location=self.device)
        self.evaluated_model.load_state_dict(best.state_dict())
        test = self.evaluate_split("test")
        summary = self.summary(test, seconds)
        if self.parallel.is_main:
            self.run.write_metrics(summary)
            self.run.write_predictions("test", test, self.inputs.splits.label_names)
            self.run.plot(summary, test.confusion(self.inputs.splits.num_classes), self.inputs.splits.label_names)
        return summary

    def summary(self, test: Evaluation | None, seconds: float) -> dict:
        dataset = self.inputs.splits
        return {
            "name": self.spec.name,
            "dataset": dataset.name,
            "label_names": list(dataset.label_names),
            "f1_average": dataset.metric,
            "select_metric": self.spec.train.select_metric,
            "epochs": self.history,
            "best_epoch": self.best["epoch"] if self.best else None,
            "best_dev": self.best["dev"] if self.best else None,
            "test": None if test is None else test.metrics,
            "device": str(self.device) if self.device.type == "cpu" else torch.cuda.get_device_name(self.device),
            "world_size": self.parallel.world,
            "wall_s": self.earlier_wall_s + seconds,  # every session of a resumed run
            "train_s": sum(record["seconds"] for record in self.history),
            "samples": {name: len(dataset.split(name)) for name in ("train", "dev", "test")},
        }

    def restore(self) -> None:
        state = self.run.load_state(self.model, self.optimizer, self.scheduler, self.device, self.ema)
        if self.parallel.is_main:
            self.run.settle_checkpoint(state["best"]["epoch"] if state and state["best"] else None)
        if state is None:
            logger.info("--resume: nothing saved in %s yet; starting from scratch", self.run.root)
            return
        if state["epoch"] > self.spec.train.epochs:
            raise ValueError(f"{self.run.root} has trained {state['epoch']} epochs already; --resume with train.epochs >= "
                             f"{state['epoch']} (got {self.spec.train.epochs}), or start a new --out")
        self.start_epoch, self.history, self.best = state["epoch"], state["history"], state["best"]
        self.earlier_wall_s = self.run.recorded_wall_s()
        logger.info("resuming after epoch %d of %d", self.start_epoch, self.spec.train.epochs)


def weight_average(model: CLMLF, decay: float | None) -> AveragedModel | None:
    """An exponential moving average of ``model``'s parameters and buffers (None when ``decay`` is None)."""
    if decay is None:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def build_criterion(losses: LossesSpec, distributed: bool = False) -> CLMLFLoss:
    """The weighted CLMLF objective described by the ``losses`` section. ``distributed``: inside a torch.distributed
    job (the default group): cross-entropy is the global-batch mean, and LBCL/DBCL take cross-rank negatives when
    ``losses.cross_rank``; those terms follow the DDP gradient convention of :mod:`clmlf.losses.distributed`."""
    negatives = distributed and losses.cross_rank
    if negatives and losses.impl == "pml":
        raise SpecError("config", ["losses.impl: pml has no cross-rank negatives; set losses.cross_rank: false or another impl"])
    return CLMLFLoss(
        CrossEntropyLoss(losses.label_smoothing, cross_rank=distributed),
        LBCLLoss(losses.temperature, losses.lbcl_variant, losses.impl, cross_rank=negatives),
        DBCLLoss(losses.temperature, losses.dbcl_variant, losses.impl, cross_rank=negatives),
        losses.lbcl_weight,
        losses.dbcl_weight,
    )


def idle_heads(model: CLMLF, losses: LossesSpec) -> bool:
    """Whether a projection head gets no gradient because its losses are off (DDP must then find unused parameters)."""
    contrastive = losses.lbcl_weight > 0 or losses.dbcl_weight > 0
    return (model.projection is not None and not contrastive) or (model.augmented_projection is not None and losses.dbcl_weight == 0)


def _fmt(values: dict[str, float]) -> str:
    return " ".join(f"{name}={value:.4f}" for name, value in values.items())


def train(spec: ExperimentSpec, out: str | Path, resume: bool = False, progress: bool = True, overwrite: bool = False) -> dict:
    """Train ``spec`` into the run directory ``out``; returns the metrics (``metrics.json``). An ``out`` that holds a
    run is refused unless ``resume`` (continue it) or ``overwrite`` (replace it). Under torchrun every process calls
    this and gets the same metrics (:mod:`clmlf.train.distributed`)."""
    with process_group(select_device(spec.train.device), spec.train.dist_backend, spec.train.dist_timeout_min) as (parallel, device):
        run = RunDir(Path(out))
        run.claim(resume, overwrite, parallel.is_main)
        parallel.barrier()
        if resume:
            spec = run.resume_spec(spec)
        return Trainer(spec, run, progress, parallel, device).fit(resume=resume)
