"""The training loop: a model, a criterion (weighted loss terms) and inputs; two-stage text schedule, dev selection,
atomic per-epoch state, resume; one process or several under torchrun (:mod:`clmlf.train.distributed`).

:meth:`Trainer.from_spec` builds every part from an ExperimentSpec (the CLI and :func:`train` use it);
``Trainer(model, criterion, inputs, run, train=...)`` trains parts built in Python (docs/training.md, "Train your own
model from Python")."""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from clmlf.contracts import is_frozen
from clmlf.losses.criterion import Criterion
from clmlf.losses.terms import LossOutput, TrainingStep
from clmlf.model import CLMLF
from clmlf.spec import ExperimentSpec, TrainSpec
from clmlf.train.distributed import Distributed, loader_over, process_group
from clmlf.train.evaluate import Evaluation, autocast, evaluate
from clmlf.train.inputs import model_inputs
from clmlf.train.metrics import evaluation_metrics
from clmlf.train.optim import build_optimizer, build_scheduler, set_text_encoder_trainable
from clmlf.train.pipeline import Inputs, build_inputs
from clmlf.train.run_dir import RunDir, load_model_files
from clmlf.train.plots import close_figures, run_figures
from clmlf.train.run_lock import run_lock
from clmlf.train.tracking import LossTerms, Tracker, TrainingWindow, learning_rates, open_tensorboard

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


def configure_torch(train: TrainSpec) -> None:
    """The process-wide settings ``train`` asks for: CPU threads and deterministic algorithms."""
    if train.num_threads:
        torch.set_num_threads(train.num_threads)
    if train.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


POSTFIX_EVERY = 25
"""Training steps between updates of the progress bar's running loss means (each update synchronises with the GPU)."""


class TrainingForward(nn.Module):
    """One training forward: ``model`` on the original view and, when a loss term uses z_aug, on the augmented view:
    both in one pass where the model has ``forward_pair`` (:meth:`CLMLF.forward_pair`), else two calls. A single call
    per backward is what DistributedDataParallel expects."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, original: dict[str, Tensor], augmented: dict[str, Tensor] | None) -> tuple[Any, Any | None]:
        if augmented is None:
            return self.model(**original), None
        if hasattr(self.model, "forward_pair"):
            return self.model.forward_pair(original, augmented)
        return self.model(**original), self.model(**augmented)


class Trainer:
    """Train ``model`` on ``inputs`` with ``criterion`` into ``run`` (a :class:`RunDir`); ``fit(resume=True)`` continues
    from the last finished epoch.

    The model contract: ``model(**inputs)`` returns an object with ``.logits`` (B, C) (and ``.z`` (B, P) when a loss
    term uses z); optional ``forward_pair(original, augmented)``; optional ``save_pretrained`` / ``from_pretrained``
    for the checkpoint (else its state dict as ``model.safetensors``). ``optimizer``, ``scheduler`` and ``ema`` (a
    weight average) default to what ``train`` describes. ``parallel``/``device``: this process's rank and device in
    a torchrun job (default: a single process). ``spec``: the ExperimentSpec written to ``config.json`` (and whose
    name the metrics carry); None writes no config. ``tracker``: where rank 0 logs scalars and figures as it trains
    (:mod:`clmlf.train.tracking`); None: TensorBoard event files in ``<run>/tensorboard/`` as ``train.tensorboard``
    says, opened and closed by :meth:`fit`."""

    def __init__(self, model: nn.Module, criterion: Criterion, inputs: Inputs, run: RunDir, train: TrainSpec = TrainSpec(), *,
                 optimizer: torch.optim.Optimizer | None = None, scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                 ema: AveragedModel | None = None, parallel: Distributed = Distributed(), device: torch.device | None = None,
                 progress: bool = True, spec: ExperimentSpec | None = None, tracker: Tracker | None = None) -> None:
        parallel.check_batch_size(train.batch_size)
        configure_torch(train)
        self.train, self.spec, self.run, self.parallel = train, spec, run, parallel
        self.progress = progress and parallel.is_main
        self.device = device or select_device(train.device)
        self.model = model.to(self.device)
        self.criterion, self.inputs = criterion.to(self.device), inputs
        self.optimizer = build_optimizer(self.model, train) if optimizer is None else optimizer
        self.ema = weight_average(self.model, train.ema_decay) if ema is None else ema
        if train.compile:  # after the weight average's copy, which stays eager (it only evaluates)
            compile_model(self.model, train.compile_options)
        self.scheduler = build_scheduler(self.optimizer, self.steps_per_epoch() * train.epochs, train) if scheduler is None else scheduler
        self.history: list[dict] = []
        self.best: dict | None = None
        self.start_epoch = 0
        self.earlier_wall_s = 0.0  # wall time of the sessions a resumed run continues
        self.tracker = tracker if parallel.is_main else None
        self.optimizer_steps = 0  # the step of every tracked value

    @classmethod
    def from_spec(cls, spec: ExperimentSpec, run: RunDir, progress: bool = True, parallel: Distributed = Distributed(),
                  device: torch.device | None = None, tracker: Tracker | None = None) -> Trainer:
        """Every part built from ``spec``: the model (seeded by ``train.seed``), the criterion of its ``losses`` terms
        and the inputs (with the augmented view when a term uses z_aug)."""
        parallel.check_batch_size(spec.train.batch_size)
        device = device or select_device(spec.train.device)
        configure_torch(spec.train)
        seed_everything(spec.train.seed)
        model = CLMLF.from_spec(spec.model).to(device)
        criterion = Criterion.from_specs(spec.losses, distributed=parallel.enabled)
        with parallel.local_main_first():  # one process per node computes the feature caches, the others load them
            inputs = build_inputs(spec, model, device, augmented_train="z_aug" in criterion.uses, progress=progress and parallel.is_main)
        return cls(model, criterion, inputs, run, spec.train, parallel=parallel, device=device, progress=progress, spec=spec,
                   tracker=tracker)

    @property
    def name(self) -> str:
        return self.spec.name if self.spec is not None else type(self.model).__name__

    def steps_per_epoch(self) -> int:
        batches = self.parallel.global_batches(torch.arange(len(self.inputs.loaders["train"].dataset)), self.train.batch_size)
        return math.ceil(len(batches) / self.train.grad_accumulation)

    # ----------------------------------------------------------------------------------------------- one step
    def step_loss(self, batch: dict, forward: nn.Module) -> LossOutput:
        """The criterion on one batch: the original view and, when a term uses z_aug, the augmented one; ``forward``
        is a :class:`TrainingForward`, possibly wrapped in DDP."""
        augmented = model_inputs(batch, self.device, augmented=True) if "z_aug" in self.criterion.uses else None
        output, output_aug = forward(model_inputs(batch, self.device), augmented)
        z_aug = None if output_aug is None else getattr(output_aug, "z", None)
        step = TrainingStep(output.logits.float(), batch["labels"].to(self.device, non_blocking=True),
                            getattr(output, "z", None), z_aug, output, output_aug)
        return self.criterion(step)

    def backward(self, batch: dict, forward: nn.Module, update: bool) -> LossOutput:
        """Forward (under autocast) and backward of one micro-batch; DDP all-reduces the gradients when ``update``."""
        with self.parallel.sync(forward, now=update):
            with autocast(self.device, self.train.bf16_on(self.device.type)):
                loss = self.step_loss(batch, forward)
            (loss.total / self.train.grad_accumulation).backward()
        return loss

    def optimizer_step(self) -> None:
        """Clip, step the optimizer and the schedule, clear the gradients, update the weight average."""
        if self.train.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.train.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    # ----------------------------------------------------------------------------------------------- epochs
    def text_stage(self, epoch: int) -> bool:
        """Two-stage schedule: the text backbone trains from epoch ``train.text_freeze_epochs`` on. Returns whether
        the text encoder is frozen this epoch (cached text states can then stand in for it)."""
        set_text_encoder_trainable(self.model, epoch >= self.train.text_freeze_epochs)
        return epoch < self.train.text_freeze_epochs or is_frozen(self.model.text_encoder)

    def epoch_batches(self, epoch: int) -> DataLoader:
        """This epoch's training batches (this rank's rows of each), seeded so that resume reproduces an
        uninterrupted run epoch by epoch; puts the model in training mode."""
        train = self.train
        seed_everything(self.parallel.seed(train.seed + epoch))
        loader = self.inputs.train_loader(self.text_stage(epoch))
        generator = torch.Generator().manual_seed(train.seed + epoch)
        order = length_grouped_order(loader.dataset.samples, loader.batch_size, generator) if train.group_by_length else torch.randperm(len(loader.dataset), generator=generator)
        loader.dataset.generator = torch.Generator().manual_seed(self.parallel.seed(train.seed + 10_000 + epoch))
        batches = loader_over(loader, self.parallel.batches(order, loader.batch_size))
        self.model.train()
        return batches

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch; returns the mean of the total loss and of every logged term."""
        batches = self.epoch_batches(epoch)
        # wrapped anew each epoch: DDP then syncs exactly this epoch's trainable parameters (text stage)
        forward = self.parallel.wrap(TrainingForward(self.model), self.device, idle_heads(self.model, self.criterion.uses))
        running, window = LossTerms(), TrainingWindow()
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{self.train.epochs}", disable=not self.progress, unit="batch")
        for step, batch in enumerate(bar):
            update = (step + 1) % self.train.grad_accumulation == 0 or step + 1 == len(batches)
            loss = self.backward(batch, forward, update)
            if update:
                self.optimizer_step()
                self.optimizer_steps += 1
            terms = {"loss": loss.total.detach(), **loss.terms}
            running.add(terms)
            if self.tracker is not None:
                window.add(terms, len(batch["labels"]))
                if update and (self.optimizer_steps % self.train.log_every == 0 or step + 1 == len(batches)):
                    self.track({**window.scalars(self.parallel.world), **learning_rates(self.optimizer)})
            if self.progress and step % POSTFIX_EVERY == 0:  # reading the means waits for the device: not every step
                bar.set_postfix({name: f"{value:.3f}" for name, value in running.means().items()})
        return running.means()

    @property
    def evaluated_model(self) -> nn.Module:
        """What dev selection, the checkpoint and the test metrics use: the weight average when kept."""
        return self.model if self.ema is None else self.ema.module

    def evaluate_split(self, split: str) -> Evaluation:
        """Every rank predicts its slice of ``split`` with rank 0's model; the gathered predictions give the
        single-process metrics."""
        dataset = self.inputs.splits
        self.parallel.share_buffers(self.evaluated_model)
        local = evaluate(self.evaluated_model, self.parallel.shard_loader(self.inputs.loaders[split]), self.device, dataset.num_classes,
                         dataset.metric, self.train.bf16_on(self.device.type), description=split, progress=self.progress)
        if not self.parallel.enabled:
            return local
        joined = self.parallel.concat(local)
        return replace(joined, metrics=evaluation_metrics(joined.labels, joined.probabilities, dataset.num_classes, dataset.metric))

    def track(self, values: dict[str, float]) -> None:
        """``values`` to the tracker at the current optimizer step (when there is a tracker)."""
        if self.tracker is not None:
            self.tracker.log_scalars(self.optimizer_steps, values)

    def selection_score(self, metrics: dict[str, float]) -> float:
        """Higher is better: accuracy or F1 as they are, the dev cross-entropy negated."""
        name = self.train.select_metric
        return -metrics[name] if name == "cross_entropy" else metrics[name]

    # ----------------------------------------------------------------------------------------------- fit
    def fit(self, resume: bool = False) -> dict:
        """Train every remaining epoch; returns the final metrics dict (also in ``metrics.json``)."""
        started = time.perf_counter()
        if resume:
            self.restore()
        if self.parallel.is_main and self.spec is not None:
            self.run.write_config(self.spec)
        with self.tracking():
            for epoch in range(self.start_epoch, self.train.epochs):
                epoch_start = time.perf_counter()
                train_terms = self.train_epoch(epoch)
                dev = self.evaluate_split("dev").metrics
                self.track({**{f"dev/{name}": value for name, value in dev.items()}, "epoch": epoch + 1})
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

    @contextmanager
    def tracking(self) -> Iterator[None]:
        """On rank 0 without a given tracker: TensorBoard in ``<run>/tensorboard/`` (``train.tensorboard``) for the
        block. Events an earlier session logged after the optimizer step training continues from are dropped (a
        resumed run, or a new run over one that stopped before its first epoch finished)."""
        if self.tracker is not None or not self.parallel.is_main:
            yield
            return
        self.tracker = open_tensorboard(self.run.tensorboard, self.train.tensorboard, purge_step=self.optimizer_steps + 1)
        try:
            yield
        finally:
            if self.tracker is not None:
                self.tracker.close()
            self.tracker = None

    def finish(self, seconds: float) -> dict:
        """Reload the best-dev checkpoint, evaluate test there, write metrics.json and the plots."""
        self.parallel.barrier()  # the checkpoint rank 0 wrote is complete
        load_model_files(self.evaluated_model, self.run.checkpoint)
        test = self.evaluate_split("test")
        summary = self.summary(test, seconds)
        if self.parallel.is_main:
            self.run.write_metrics(summary)
            self.run.write_card(summary)
            self.run.write_predictions("test", test, self.inputs.splits.label_names)
            self.track({f"test/{name}": value for name, value in test.metrics.items()})
            figures = run_figures(summary, test.confusion(self.inputs.splits.num_classes), self.inputs.splits.label_names)
            try:
                self.run.write_figures(figures)
                for name, figure in figures.items():
                    if self.tracker is not None:
                        self.tracker.log_figure(f"figures/{name}", figure, self.optimizer_steps)
            finally:
                close_figures(figures)
        return summary

    def summary(self, test: Evaluation | None, seconds: float) -> dict:
        dataset = self.inputs.splits
        return {
            "name": self.name,
            "dataset": dataset.name,
            "label_names": list(dataset.label_names),
            "f1_average": dataset.metric,
            "select_metric": self.train.select_metric,
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
        if state["epoch"] > self.train.epochs:
            raise ValueError(f"{self.run.root} has trained {state['epoch']} epochs already; --resume with train.epochs >= "
                             f"{state['epoch']} (got {self.train.epochs}), or start a new --out")
        self.start_epoch, self.history, self.best = state["epoch"], state["history"], state["best"]
        self.optimizer_steps = self.start_epoch * self.steps_per_epoch()
        self.earlier_wall_s = self.run.recorded_wall_s()
        logger.info("resuming after epoch %d of %d", self.start_epoch, self.train.epochs)


def weight_average(model: nn.Module, decay: float | None) -> AveragedModel | None:
    """An exponential moving average of ``model``'s parameters and buffers (None when ``decay`` is None)."""
    if decay is None:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def compile_model(model: nn.Module, options: dict[str, Any]) -> None:
    """``torch.compile`` in place: the heavy parts where the model says which (:meth:`CLMLF.compile_parts`), else whole."""
    if hasattr(model, "compile_parts"):
        model.compile_parts(**options)
    else:
        model.compile(**options)


def idle_heads(model: nn.Module, uses: frozenset[str]) -> bool:
    """Whether a projection head gets no gradient because no weighted loss term reads it (DDP must then find unused
    parameters): ``projection`` without a term using z, ``augmented_projection`` without one using z_aug."""
    projection, augmented = getattr(model, "projection", None), getattr(model, "augmented_projection", None)
    return (projection is not None and not uses) or (augmented is not None and "z_aug" not in uses)


def _fmt(values: dict[str, float]) -> str:
    return " ".join(f"{name}={value:.4f}" for name, value in values.items())


def claim_run(run: RunDir, lock: ExitStack, main: bool, resume: bool, overwrite: bool) -> bool:
    """Rank 0 (or a single process) takes ``run``'s lock into ``lock`` and clears a killed run's staging files;
    every rank checks that ``run`` may be started (:meth:`RunDir.claim`, whose answer it returns)."""
    if main:
        lock.enter_context(run_lock(run.root))
    replacing = run.claim(resume, overwrite)
    if main:
        run.clear_staging()
    return replacing


def train(spec: ExperimentSpec, out: str | Path, resume: bool = False, progress: bool = True, overwrite: bool = False) -> dict:
    """Train ``spec`` into the run directory ``out``; returns the metrics (``metrics.json``). An ``out`` that holds a
    run is refused unless ``resume`` (continue it) or ``overwrite`` (replace it). Under torchrun every process calls
    this and gets the same metrics (:mod:`clmlf.train.distributed`).

    ``out`` is locked for the run (:mod:`clmlf.train.run_lock`: a second process is refused at once), and an old run
    being overwritten stays whole until the new one has built its model and inputs (the checks of config and data)."""
    with process_group(select_device(spec.train.device), spec.train.dist_backend, spec.train.dist_timeout_min) as (parallel, device):
        run = RunDir(Path(out))
        with ExitStack() as lock:  # rank 0 holds the lock; a refusal stops every rank at once (Distributed.agree)
            replacing = parallel.agree(lambda: claim_run(run, lock, parallel.is_main, resume, overwrite))
            if resume:
                spec = run.resume_spec(spec)
            trainer = Trainer.from_spec(spec, run, progress, parallel, device)
            if replacing and parallel.is_main:  # the new run got past everything that can fail before its first epoch
                run.clear_outputs()
            parallel.barrier()
            return trainer.fit(resume=resume)
