"""Fit a backbone + head on the folder dataset; keep the checkpoint with the best validation
balanced accuracy (the CCTV hold-out is mostly masked, so plain accuracy would flatter)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from ..config import Config
from ..types import MASK, NO_MASK
from .augment import CCTVAugment, Occlusion, augment_batch, plain_batch
from .data import LANDMARKS_FILE, Split, load_split
from .metrics import summary
from .report import write_plots
from .synthetic import load_templates, mean_layout, put_mask, split_landmarks

MODEL_FILE = "model.keras"


def build_model(cfg: Config):
    import keras

    from .backbones import backbones
    from .heads import heads

    t = cfg.training
    inputs = keras.Input((t.input_size, t.input_size, 3), name="image")
    features = backbones.get(t.backbone)(inputs, width=t.width)
    probs = heads.get(t.head)(features, len(cfg.classifier.classes))
    return keras.Model(inputs, probs, name=f"{t.backbone}_{t.head}")


def load_data(cfg: Config) -> tuple[Split, Split]:
    t = cfg.training
    classes = list(cfg.classifier.classes)
    train = load_split(t.data_dir, "train", classes, t.class_dirs, max(t.store_size, t.input_size))
    val = load_split(t.data_dir, "validation", classes, t.class_dirs, t.input_size)
    return train, val


class _Batches:
    """Shuffled, augmented batches; optional synthetic-mask samples appended to each epoch."""

    def __init__(self, cfg: Config, split: Split, rng: np.random.Generator):
        t = cfg.training
        self.cfg, self.split, self.rng = cfg, split, rng
        self.aug = CCTVAugment(t.input_size, min_face_px=t.min_face_px, pad=cfg.classifier.crop_pad)
        # hand-labelled video crops (prepare's "vid_" files) are drawn video_repeat times per epoch
        self.repeat = np.array([t.video_repeat if p.name.startswith("vid_") else 1 for p in split.paths], np.int64)
        counts = np.bincount(split.labels, weights=self.repeat, minlength=len(split.classes)).astype(np.float64)
        self.class_weights = _class_weights(counts, t.class_weight)
        self.donors, self.landmarks, self.templates = _synthetic_sources(cfg, split)
        unmasked = split.images[split.labels == split.classes.index(NO_MASK)] if t.crowd > 0 else None
        self.occlusion = Occlusion(t.occlusion, t.shadow, t.crowd, unmasked)
        self.layout = mean_layout(self.landmarks) if self.landmarks else None
        self.n_synthetic = int(round(t.synthetic_masks * counts[split.classes.index(NO_MASK)])) if len(self.donors) else 0
        self.order = self._shuffle()

    def _shuffle(self) -> np.ndarray:
        n = len(self.split.labels)
        base = np.repeat(np.arange(n), self.repeat)
        return self.rng.permutation(np.concatenate([base, np.arange(n, n + self.n_synthetic)]))

    def __len__(self) -> int:
        return math.ceil(len(self.order) / self.cfg.training.batch_size)

    def sample(self, i: int) -> tuple[np.ndarray, int]:
        n = len(self.split.labels)
        if i < n:
            image, label = self.split.images[i], int(self.split.labels[i])
        else:
            i = int(self.donors[self.rng.integers(len(self.donors))])  # a synthetic mask on this face
            template = self.templates[self.rng.integers(len(self.templates))]
            image = put_mask(self.split.images[i], self.landmarks[i], template, self.rng)
            label = self.split.classes.index(MASK)
        if self.layout is not None:
            unmasked = label == self.split.classes.index(NO_MASK)
            image = self.occlusion(image, unmasked, self.landmarks.get(i, self.layout), self.rng)
        return image, label

    def __getitem__(self, b: int):
        t = self.cfg.training
        crops, labels = zip(*(self.sample(int(i)) for i in self.order[b * t.batch_size:(b + 1) * t.batch_size]))
        crops, labels = np.stack(crops), np.array(labels, np.int32)
        x = augment_batch(self.aug, crops, self.rng) if t.augment else plain_batch(crops, t.input_size)
        return x.astype(np.float32), labels, self.class_weights[labels].astype(np.float32)

    def on_epoch_end(self) -> None:
        self.order = self._shuffle()


def _class_weights(counts: np.ndarray, mode: str) -> np.ndarray:
    """Loss weight per class, normalised so the mean weight over samples is 1."""
    if mode == "none":
        return np.ones(len(counts))
    w = 1.0 / np.maximum(counts, 1) ** (1.0 if mode == "balanced" else 0.5)
    return w * counts.sum() / (w * counts).sum()


def _synthetic_sources(cfg: Config, split: Split) -> tuple[np.ndarray, dict[int, np.ndarray], list]:
    """Unmasked crops with landmarks (synthetic-mask donors), the landmarks of the split (index ->
    (5, 2) in loaded pixels; every crop that has some) and the mask templates."""
    t = cfg.training
    if t.synthetic_masks <= 0 and t.occlusion <= 0 and t.crowd <= 0 and t.shadow <= 0:
        return np.zeros(0, np.int64), {}, []
    scale = split.images.shape[1] / t.store_size
    landmarks = split_landmarks(Path(t.data_dir) / LANDMARKS_FILE, split.paths, scale)
    no_mask = split.classes.index(NO_MASK)
    donors = np.array(sorted(i for i in landmarks if split.labels[i] == no_mask), np.int64)
    return donors, landmarks, load_templates(t.mask_templates_dir) if t.synthetic_masks > 0 else []


def _to_dataset(batches: _Batches):
    import keras

    class Wrapped(keras.utils.PyDataset):
        def __len__(self) -> int:
            return len(batches)

        def __getitem__(self, i: int):
            return batches[i]

        def on_epoch_end(self) -> None:
            batches.on_epoch_end()

    return Wrapped()


def train(cfg: Config, log=print) -> Path:
    """Train and save the best model to ``<output_dir>/model.keras``; returns that path."""
    t = cfg.training
    train_split, val_split = load_data(cfg)  # bad data fails here, before TensorFlow loads
    log(f"train {train_split.counts()}  hold-out validation {val_split.counts()}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    out = Path(t.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(t.seed)
    rng = np.random.default_rng(t.seed)

    batches = _Batches(cfg, train_split, rng)
    if batches.n_synthetic:
        log(f"synthetic masks: {batches.n_synthetic} per epoch from {len(batches.donors)} unmasked faces")
    model = build_model(cfg)
    steps = t.epochs * len(batches)
    schedule = keras.optimizers.schedules.CosineDecay(t.learning_rate, decay_steps=steps, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    x_val = val_split.images.astype(np.float32)
    best = {"balanced_accuracy": -1.0}
    history: list[dict] = []
    tmp_model = out / (MODEL_FILE + ".part.keras")

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs=None) -> None:
            preds = model.predict(x_val, batch_size=256, verbose=0).argmax(axis=1)
            m = summary(val_split.labels, preds, val_split.classes)
            row = {"epoch": epoch + 1, "loss": float(logs["loss"]), "train_accuracy": float(logs["accuracy"]),
                   "val_accuracy": m["accuracy"], "val_balanced_accuracy": m["balanced_accuracy"], "val_recall": m["recall"]}
            history.append(row)
            improved = m["balanced_accuracy"] > best["balanced_accuracy"]
            if improved:
                best.update(m, epoch=epoch + 1)
                model.save(tmp_model)
                os.replace(tmp_model, out / MODEL_FILE)
            log(f"epoch {epoch + 1}/{t.epochs} loss {row['loss']:.4f} hold-out acc {m['accuracy']:.4f} "
                f"balanced {m['balanced_accuracy']:.4f}{'  *saved' if improved else ''}")

    callbacks = [Checkpoint()]
    if importlib.util.find_spec("tensorboard") is not None:  # optional: writing summaries needs it
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / "logs"), write_graph=False))
    start = time.time()
    model.fit(_to_dataset(batches), epochs=t.epochs, callbacks=callbacks, verbose=0)
    best_model = keras.models.load_model(out / MODEL_FILE)
    auc = write_plots(out, val_split.labels, best_model.predict(x_val, batch_size=256, verbose=0),
                      val_split.classes, "hold-out validation")
    result = {
        "config": t.model_dump(),
        "validation_auc": auc,
        "classes": list(cfg.classifier.classes),
        "train_counts": train_split.counts(),
        "validation_counts": val_split.counts(),
        "best": best,
        "history": history,
        "train_seconds": round(time.time() - start, 1),
    }
    _write_json(out / "metrics.json", result)
    log(f"best epoch {best['epoch']}: hold-out accuracy {best['accuracy']:.4f} balanced {best['balanced_accuracy']:.4f} "
        f"-> {out / MODEL_FILE}")
    return out / MODEL_FILE


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
