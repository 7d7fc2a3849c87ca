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
from .augment import CCTVAugment, augment_batch, plain_batch
from .data import Split, load_split
from .metrics import summary

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


def _batches(cfg: Config, split: Split, rng: np.random.Generator):
    import keras

    t = cfg.training
    aug = CCTVAugment(t.input_size, min_face_px=t.min_face_px, pad=cfg.classifier.crop_pad)

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.order = rng.permutation(len(split.labels))

        def __len__(self) -> int:
            return math.ceil(len(split.labels) / t.batch_size)

        def __getitem__(self, i: int):
            idx = self.order[i * t.batch_size:(i + 1) * t.batch_size]
            crops = split.images[idx]
            x = augment_batch(aug, crops, rng) if t.augment else plain_batch(crops, t.input_size)
            return x.astype(np.float32), split.labels[idx]

        def on_epoch_end(self) -> None:
            self.order = rng.permutation(len(split.labels))

    return Batches()


def train(cfg: Config, log=print) -> Path:
    """Train and save the best model to ``<output_dir>/model.keras``; returns that path."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    t = cfg.training
    out = Path(t.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(t.seed)
    rng = np.random.default_rng(t.seed)
    train_split, val_split = load_data(cfg)
    log(f"train {train_split.counts()}  validation {val_split.counts()}")

    model = build_model(cfg)
    steps = t.epochs * math.ceil(len(train_split.labels) / t.batch_size)
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
            log(f"epoch {epoch + 1}/{t.epochs} loss {row['loss']:.4f} val acc {m['accuracy']:.4f} "
                f"balanced {m['balanced_accuracy']:.4f}{'  *saved' if improved else ''}")

    callbacks = [Checkpoint()]
    if importlib.util.find_spec("tensorboard") is not None:  # optional: writing summaries needs it
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(out / "logs"), write_graph=False))
    start = time.time()
    model.fit(_batches(cfg, train_split, rng), epochs=t.epochs, callbacks=callbacks, verbose=0)
    result = {
        "config": t.model_dump(),
        "classes": list(cfg.classifier.classes),
        "train_counts": train_split.counts(),
        "validation_counts": val_split.counts(),
        "best": best,
        "history": history,
        "train_seconds": round(time.time() - start, 1),
    }
    _write_json(out / "metrics.json", result)
    log(f"best epoch {best['epoch']}: val accuracy {best['accuracy']:.4f} balanced {best['balanced_accuracy']:.4f} "
        f"-> {out / MODEL_FILE}")
    return out / MODEL_FILE


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
