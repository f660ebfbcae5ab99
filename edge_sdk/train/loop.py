"""The distillation training loop: one step, checkpoint/resume, CSV log, loss plot, progress bar.

Latent-space only. With a teacher: feature + output distillation next to the task loss, balanced by
gradient-norm adaptive weights; without one: the task loss (plus the optional perceptual term).
"""
from __future__ import annotations

import copy
import dataclasses
import math
import time
from pathlib import Path
from typing import Optional

import torch
from tqdm.auto import tqdm

from edge_sdk.errors import ConfigError
from edge_sdk.model import category_ids
from edge_sdk.prediction import alphas_cumprod, task_loss_weight
from edge_sdk.train.checkpointing import CsvLog, load_training_state, plot_log, save_training_state
from edge_sdk.train.data import LatentTriples
from edge_sdk.train.features import FeatureTap, feature_channels
from edge_sdk.train.losses import (
    FeatureProjector,
    feature_distillation_loss,
    latent_perceptual_loss,
    output_distillation_loss,
    predicted_clean_latents,
    task_loss,
)
from edge_sdk.train.timesteps import logit_normal_timesteps, offset_noise
from edge_sdk.train.weighting import GradNormWeighting, combine

# The official recipe's coefficients: 0.01·L_feat + w_task·(0.5·L_task + 0.01·w_out·L_out + 0.5·w_perc·L_perc).
OFFICIAL_COEFFICIENTS = {"feat": 0.01, "task": 0.5, "out": 0.01, "perc": 0.5}
LOG_COLUMNS = ["step", "loss", "task", "out", "feat", "perc", "w_task", "w_out", "w_perc", "lr", "seconds"]


@dataclasses.dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 4
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_steps: int = 50
    grad_clip: float = 1.0
    uncond_prob: float = 0.1  # share of samples trained on the unconditional ids (10..19), so CFG works
    noise_offset: float = 0.0
    timestep_mean: float = 0.0
    timestep_std: float = 1.0
    student_feature: Optional[str] = None  # e.g. "diff_model.up_blocks.1"
    teacher_feature: Optional[str] = None
    probe: tuple[str, ...] = ()  # parameter-name prefixes the adaptive weights probe; default: see _probe_prefixes
    perceptual: bool = False
    coefficients: dict = dataclasses.field(default_factory=lambda: dict(OFFICIAL_COEFFICIENTS))
    weight_clamp: tuple[float, float] = (0.05, 20.0)
    ema_decay: float = 0.0  # 0 disables the EMA copy
    seed: int = 0
    checkpoint_every: int = 100
    log_every: int = 10


def _autocast(device: torch.device):
    # bf16 on GPU halves activation memory; CPU bf16 is slower than fp32 on most CPUs, so CPU stays fp32.
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


class DistillationTrainer:
    def __init__(
        self,
        student: torch.nn.Module,
        data: LatentTriples,
        config: TrainConfig,
        *,
        teacher: Optional[torch.nn.Module] = None,
        out_dir: Optional[Path] = None,
        device: Optional[torch.device] = None,
    ):
        for role, model in (("student", student), ("teacher", teacher)):
            if model is not None and model.config.hole_fill != data.hole_fill:
                raise ConfigError(
                    f"the latent triples were encoded with hole_fill {data.hole_fill!r} but the {role} config has "
                    f"{model.config.hole_fill!r}: encode them again for this model"
                )
        self.config = config
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.student = student.to(self.device).train()
        self.teacher = teacher.to(self.device).eval().requires_grad_(False) if teacher is not None else None
        self.data = data
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.generator = torch.Generator().manual_seed(config.seed)
        self.alphas_cumprod = alphas_cumprod().to(self.device)  # the same table the model converts with
        self.tokens = student.config.context_tokens
        # Copied before any hook is attached, so the EMA model carries none.
        self.ema = copy.deepcopy(self.student).eval().requires_grad_(False) if config.ema_decay > 0 else None

        self.student_tap = self.teacher_tap = None
        self.projector = None
        if self.teacher is not None and config.student_feature:
            if not config.teacher_feature:
                raise ValueError("feature distillation needs both student_feature and teacher_feature")
            example = self._example_inputs()
            channels_s = feature_channels(self.student, config.student_feature, example)
            channels_t = feature_channels(self.teacher, config.teacher_feature, example)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                self.projector = FeatureProjector(channels_s, channels_t).to(self.device)
            self.student_tap = FeatureTap(self.student, config.student_feature)
            self.teacher_tap = FeatureTap(self.teacher, config.teacher_feature)

        params = list(self.student.parameters()) + (list(self.projector.parameters()) if self.projector else [])
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.weighting = GradNormWeighting(self._probe_parameters(), config.weight_clamp) if self._adaptive else None
        self.step_count = 0

    @property
    def _adaptive(self) -> bool:
        # With only the task loss there is nothing to balance.
        return self.teacher is not None or self.config.perceptual

    def _probe_prefixes(self) -> tuple[str, ...]:
        if self.config.probe:
            return tuple(self.config.probe)
        # Feature and output terms both reach the feature module; without one, the output conv sees them all.
        if self.student_tap is not None:
            return (self.config.student_feature + ".",)
        return ("diff_model.conv_out.",)

    def _probe_parameters(self) -> list[torch.nn.Parameter]:
        prefixes = self._probe_prefixes()
        params = [p for n, p in self.student.named_parameters() if n.startswith(prefixes)]
        if not params:
            raise ValueError(f"no student parameter starts with {', '.join(prefixes)} (probe for adaptive weights)")
        return params

    def _example_inputs(self) -> tuple:
        side = self.data.latent_side
        x = torch.zeros(1, self.student.config.in_channels, side, side, device=self.device)
        return (x, torch.zeros(1, device=self.device), category_ids(True, self.tokens, self.device))

    def _lr(self) -> float:
        c = self.config
        if self.step_count < c.warmup_steps:
            return c.lr * (self.step_count + 1) / c.warmup_steps
        progress = (self.step_count - c.warmup_steps) / max(1, c.steps - c.warmup_steps)
        return c.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    def _batch(self):
        c, g = self.config, self.generator
        batch = {k: v.to(self.device) for k, v in self.data.batch(c.batch_size, g).items()}
        noise = offset_noise(batch["latents"].shape, g, c.noise_offset).to(self.device)
        t = logit_normal_timesteps(c.batch_size, g, c.timestep_mean, c.timestep_std).to(self.device)
        uncond = (torch.rand(c.batch_size, generator=g) < c.uncond_prob).to(self.device)
        ids = torch.where(
            uncond[:, None], category_ids(False, self.tokens, self.device), category_ids(True, self.tokens, self.device)
        )
        return batch, noise, t, ids

    def losses(self) -> dict[str, torch.Tensor]:
        """Draw a batch (advancing the run's RNG) and compute every active loss term."""
        batch, noise, t, ids = self._batch()
        a = self.alphas_cumprod[t].reshape(-1, 1, 1, 1)
        noisy = a.sqrt() * batch["latents"] + (1 - a).sqrt() * noise
        model_input = torch.cat([noisy, batch["mask_latent"], batch["masked_latents"]], dim=1)
        with _autocast(self.device):
            eps = self.student(model_input, t, ids)
            # Weighted so the MSE is that of what the network predicts (ε or v), see edge_sdk.prediction.
            terms = {"task": task_loss(eps, noise, task_loss_weight(self.alphas_cumprod[t], self.student.config))}
            if self.teacher is not None:
                with torch.no_grad():
                    eps_teacher = self.teacher(model_input, t, ids)
                terms["out"] = output_distillation_loss(eps, eps_teacher)
                if self.student_tap is not None:
                    terms["feat"] = feature_distillation_loss(self.student_tap.take(), self.teacher_tap.take(), self.projector)
            if self.config.perceptual:
                terms["perc"] = latent_perceptual_loss(predicted_clean_latents(noisy, eps, self.alphas_cumprod[t]), batch["latents"])
        return terms

    def step(self) -> dict[str, float]:
        lr = self._lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        terms = self.losses()
        total, weights = combine(terms, self.config.coefficients, self.weighting)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.student.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self._update_ema()
        self.step_count += 1
        return {"step": self.step_count, "loss": float(total.detach()), **{k: float(v.detach()) for k, v in terms.items()}, **weights, "lr": lr}

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        # Warm-up (1+n)/(10+n): a short run must not ship an average still dominated by the random init.
        d = min(self.config.ema_decay, (1 + self.step_count) / (10 + self.step_count))
        for e, p in zip(self.ema.parameters(), self.student.parameters()):
            e.lerp_(p, 1 - d)
        for e, b in zip(self.ema.buffers(), self.student.buffers()):
            e.copy_(b)  # BatchNorm running statistics follow the live model

    def _modules(self) -> dict:
        return {"student": self.student, "projector": self.projector, "ema": self.ema}

    def save(self, path: Path) -> None:
        save_training_state(path, self._modules(), self.optimizer, self.generator, step=self.step_count)

    def resume(self, path: Path) -> None:
        extra = load_training_state(path, self._modules(), self.optimizer, self.generator)
        self.step_count = int(extra["step"])

    def trained_model(self) -> torch.nn.Module:
        """The weights to ship: the EMA copy when there is one."""
        return (self.ema if self.ema is not None else self.student).eval()

    def train(self, *, time_budget_s: Optional[float] = None, until_step: Optional[int] = None, progress: bool = True) -> Path:
        """Run to `config.steps` (or `until_step`, or the time budget), resuming from out_dir/state.pt; returns the
        state path. `until_step` ends a phase early on the same learning-rate schedule, so a later phase with other
        loss terms resumes from it."""
        if self.out_dir is None:
            raise ValueError("train() needs an out_dir for checkpoints and the log")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        state_path = self.out_dir / "state.pt"
        if state_path.is_file():
            self.resume(state_path)
        log = CsvLog(self.out_dir / "log.csv", LOG_COLUMNS, resume_step=self.step_count)
        started = time.monotonic()
        c = self.config
        last = min(c.steps, until_step) if until_step is not None else c.steps
        with tqdm(total=last, initial=self.step_count, desc="train", disable=not progress) as bar:
            while self.step_count < last:
                row = self.step()
                bar.update(1)
                bar.set_postfix(loss=f"{row['loss']:.4f}")
                if self.step_count % c.log_every == 0:
                    log.write({**row, "seconds": time.monotonic() - started})
                out_of_time = time_budget_s is not None and time.monotonic() - started > time_budget_s
                if self.step_count % c.checkpoint_every == 0 or self.step_count == last or out_of_time:
                    self.save(state_path)
                    plot_log(log.path, self.out_dir / "loss.png", ["loss", "task", "out", "feat", "perc"])
                if out_of_time:
                    break
        return state_path
