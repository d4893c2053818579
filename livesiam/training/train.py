"""Training the face encoder: the recipe, the batch sampler and the loop.

A recipe (``configs/train-*.yaml``) names the datasets, the identities held out, the encoder,
the Siamese objective and, optionally, a teacher to distil from. Batches hold P identities with
K images each, plus some single-image identities that serve only as negatives and for
distillation, so that triplets can be mined online inside every batch.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DatasetError
from .augment import AugmentOptions, augment_crop
from .data import FaceSet, cached_faceset, lfw_folds

log = logging.getLogger(__name__)

OBJECTIVES = ("triplet", "contrastive", "pair")
MINING = ("batch-hard", "semi-hard")
TEACHERS = ("cached", "online")
NORMS = ("batch", "frozen")


@dataclass
class DatasetSpec:
    name: str
    path: str
    pick: str = "largest"
    """"centre" for centred sets such as LFW, "largest" elsewhere."""


@dataclass
class TrainConfig:
    name: str = "encoder"
    encoder: str = "resnet"
    """A name from ``models.ENCODERS``, or "dlib-resnet": the teacher's own network, read
    from its weights file (see ``dlib_resnet``) and trained further."""
    rank: int = 0
    """For "dlib-resnet": split its 256-channel 3x3 convolutions into 3x1 and 1x3 ones through
    this many channels (0 keeps them whole)."""
    input_size: int = 112
    embedding_dim: int = 128
    layout: str = "arcface"
    """Where the aligned crops put the eyes, nose and mouth (``align.LAYOUTS``)."""
    datasets: list[DatasetSpec] = field(default_factory=list)
    pairs_file: str = ""
    """LFW-format pairs file that assigns LFW identities to folds."""
    holdout_folds: list[int] = field(default_factory=list)
    """LFW folds whose identities are kept out of training (for an honest evaluation)."""
    exclude_identities: list[str] = field(default_factory=list)
    """Identity folder names left out of every dataset (e.g. people who are also in the
    held-out folds under another dataset)."""
    objective: str = "triplet"
    mining: str = "batch-hard"
    margin: float = 0.3
    """Triplet margin (Euclidean, on unit-length embeddings) or contrastive margin."""
    distill_weight: float = 1.0
    """Weight of the teacher-matching term; 0 trains without a teacher."""
    teacher: str = "cached"
    """"cached": face_recognition's embeddings of the original images, computed once;
    "online": the teacher network run on every augmented batch (needs "dlib-resnet")."""
    relational_weight: float = 1.0
    """Weight of matching the teacher's pairwise similarities inside a batch."""
    metric_weight: float = 1.0
    """Weight of the Siamese objective."""
    frozen: list[str] = field(default_factory=list)
    """Prefixes of names of encoder layers that keep their initial weights."""
    norm: str = "batch"
    """"batch": batch normalisation learns from batch statistics; "frozen": it stays the
    affine map it starts as (for an encoder initialised from a trained network)."""
    float16_tflite: bool = False
    """Store the TFLite weights in half precision (computation stays float32)."""
    calibrate: bool = False
    """Give the weights a score offset (``embed.calibrate``): the mean cosine similarity of
    two different people among the training faces, so that strangers score about 0."""
    evaluate_epochs: bool = False
    """Measure the held-out LFW pairs after every epoch (recorded in the history)."""
    epochs: int = 30
    identities_per_batch: int = 16
    images_per_identity: int = 4
    singletons_per_batch: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    seed: int = 0
    augment: AugmentOptions = field(default_factory=AugmentOptions)
    cache_dir: str = "cache"

    @property
    def batch_size(self) -> int:
        return self.identities_per_batch * self.images_per_identity + self.singletons_per_batch


# Smallest value of each numeric recipe key (inclusive), and whether it must stay below 1.
_LOWEST = {"rank": 0, "input_size": 8, "embedding_dim": 1, "margin": 0.0, "distill_weight": 0.0,
           "relational_weight": 0.0, "metric_weight": 0.0, "epochs": 1,
           "identities_per_batch": 2, "images_per_identity": 2, "singletons_per_batch": 0,
           "weight_decay": 0.0, "warmup_epochs": 0.0, "seed": 0}
_POSITIVE = {"learning_rate"}


def _check_value(path: Path, key: str, kind: str, value: object) -> None:
    """Refuse a recipe value of the wrong type or range, naming the key."""
    def fail(what: str) -> None:
        raise ConfigError(f"{path}: {key} must be {what}, got {value!r}")

    if kind == "bool":
        if not isinstance(value, bool):
            fail("true or false")
    elif kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (kind == "int" and not isinstance(value, int)) or not np.isfinite(value):
            fail("a whole number" if kind == "int" else "a number")
        if key in _LOWEST and value < _LOWEST[key]:
            fail(f"at least {_LOWEST[key]}")
        if key in _POSITIVE and value <= 0:
            fail("above 0")
    elif kind == "str":
        if not isinstance(value, str):
            fail("text")
    elif kind in ("list[str]", "list[int]"):
        item = str if kind == "list[str]" else int
        if not isinstance(value, list) or not all(
                isinstance(v, item) and not isinstance(v, bool) for v in value):
            fail("a list of " + ("names" if item is str else "whole numbers"))


def load_train_config(path: str | Path) -> TrainConfig:
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read recipe ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file in UTF-8") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of keys to values")
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"{path}: unknown recipe keys {sorted(map(str, unknown))}")
    for key, value in data.items():
        if key not in ("datasets", "augment"):
            _check_value(path, key, str(fields[key].type), value)
    datasets = [_dataset_spec(path, d) for d in _list_of(path, "datasets", data)]
    augment = data.pop("augment", None) or {}
    if not isinstance(augment, dict):
        raise ConfigError(f"{path}: augment must be a mapping of option to value")
    augment_keys = {f.name for f in dataclasses.fields(AugmentOptions)}
    unknown = set(augment) - augment_keys
    if unknown:
        raise ConfigError(f"{path}: unknown augment keys {sorted(map(str, unknown))}")
    for key, value in augment.items():
        _check_value(path, f"augment.{key}", "float", value)
        if value < 0:
            raise ConfigError(f"{path}: augment.{key} must be at least 0, got {value!r}")
    data.pop("datasets", None)
    config = TrainConfig(datasets=datasets, augment=AugmentOptions(**augment), **data)
    if config.objective not in OBJECTIVES:
        raise ConfigError(f"{path}: objective must be one of {OBJECTIVES}")
    if config.mining not in MINING:
        raise ConfigError(f"{path}: mining must be one of {MINING}")
    if not config.datasets:
        raise ConfigError(f"{path}: the recipe names no dataset")
    if config.teacher not in TEACHERS:
        raise ConfigError(f"{path}: teacher must be one of {TEACHERS}")
    if config.norm not in NORMS:
        raise ConfigError(f"{path}: norm must be one of {NORMS}")
    from ..align import LAYOUTS

    if config.layout not in LAYOUTS:
        raise ConfigError(f"{path}: layout must be one of {tuple(LAYOUTS)}")
    if config.encoder == "dlib-resnet":
        from .dlib_resnet import INPUT_SIZE

        if config.input_size != INPUT_SIZE or config.layout != "dlib-chip":
            raise ConfigError(f"{path}: encoder dlib-resnet reads {INPUT_SIZE}x{INPUT_SIZE} "
                              f"crops in the dlib-chip layout")
        if config.embedding_dim != 128:
            raise ConfigError(f"{path}: encoder dlib-resnet gives 128-d embeddings")
    else:
        from .models import ENCODERS

        if config.encoder not in ENCODERS:
            raise ConfigError(f"{path}: encoder must be dlib-resnet or one of "
                              f"{tuple(ENCODERS)}, got {config.encoder!r}")
    if config.teacher == "online" and config.encoder != "dlib-resnet":
        raise ConfigError(f"{path}: the online teacher needs encoder dlib-resnet")
    # The run ends by measuring the encoder on held-out LFW people: check now what that needs,
    # rather than after the training.
    if not config.pairs_file or not config.holdout_folds:
        raise ConfigError(f"{path}: the recipe needs pairs_file and holdout_folds (the LFW "
                          f"folds that measure the encoder on people it never saw)")
    if not Path(config.pairs_file).is_file():
        raise ConfigError(f"{path}: pairs_file {config.pairs_file}: no such file")
    if not any(spec.name == "lfw" for spec in config.datasets):
        raise ConfigError(f"{path}: the recipe needs a dataset named lfw (the held-out folds' "
                          f"images)")
    return config


def _list_of(path: Path, key: str, data: dict) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {key} must be a list")
    return value


def _dataset_spec(path: Path, entry: object) -> DatasetSpec:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or \
            not isinstance(entry.get("path"), str) or set(entry) - {"name", "path", "pick"}:
        raise ConfigError(f"{path}: each dataset is {{name: NAME, path: FOLDER, pick: "
                          f"centre|largest}}, got {entry!r}")
    if entry.get("pick", "largest") not in ("centre", "largest"):
        raise ConfigError(f"{path}: dataset {entry['name']}: pick must be centre or largest")
    names = entry["name"]
    if not names or any(c in names for c in "/\\"):
        raise ConfigError(f"{path}: dataset name {names!r} must be a plain non-empty name")
    return DatasetSpec(**entry)


# --- data -------------------------------------------------------------------------------------

def held_out_identities(config: TrainConfig) -> set[str]:
    names = set(config.exclude_identities)
    if config.holdout_folds:
        folds = lfw_folds(config.pairs_file)
        for fold in config.holdout_folds:
            names |= folds[fold - 1]
    return names


def load_training_faces(config: TrainConfig) -> tuple[FaceSet, np.ndarray | None]:
    """The training crops (held-out identities removed) and, with a teacher, its embeddings."""
    excluded = held_out_identities(config)
    sets, teachers = [], []
    for spec in config.datasets:
        faces = cached_faceset(spec.path, spec.name, config.cache_dir, spec.pick,
                               config.input_size, layout=config.layout)
        if config.distill_weight > 0 and config.teacher == "cached":
            from .teacher import teacher_embeddings

            teachers.append(teacher_embeddings(faces, spec.path, config.cache_dir))
        keep = ~np.isin(faces.identities, list(excluded))
        log.info("%s: %d images of %d identities kept, %d images held out", spec.name,
                 int(keep.sum()), len(np.unique(faces.identities[keep])), int((~keep).sum()))
        sets.append(faces.subset(keep))
        if teachers:
            teachers[-1] = teachers[-1][keep]
    faces = FaceSet.concat(sets)
    teacher = None
    if teachers:
        teacher = centred_teacher(np.concatenate(teachers))
    return faces, teacher


def centred_teacher(embeddings: np.ndarray) -> np.ndarray:
    """Teacher embeddings with their common direction removed, at unit length.

    dlib's embeddings share a large common component (two strangers typically score about
    0.8 in cosine similarity). Matching them as they are asks the student for tiny differences
    on top of a constant, which trains badly; after centring, strangers sit near 0 and the
    Euclidean geometry between faces is kept.
    """
    centred = embeddings.astype(np.float32) - embeddings.mean(axis=0, keepdims=True)
    return centred / (np.linalg.norm(centred, axis=1, keepdims=True) + 1e-12)


class PKSampler:
    """Batches of P identities x K images, plus single-image identities as extra negatives."""

    def __init__(self, labels: np.ndarray, p: int, k: int, singletons: int,
                 rng: np.random.Generator) -> None:
        self.rng = rng
        self.p, self.k, self.singletons = p, k, singletons
        by_label: dict[int, list[int]] = {}
        for i, label in enumerate(labels):
            by_label.setdefault(int(label), []).append(i)
        self.groups = [np.array(v) for v in by_label.values() if len(v) >= 2]
        self.single = np.array([v[0] for v in by_label.values() if len(v) == 1], dtype=int)
        if len(self.groups) < p:
            raise DatasetError(f"only {len(self.groups)} identities have two or more images; "
                               f"a batch needs {p}")

    def batch(self) -> np.ndarray:
        chosen = self.rng.choice(len(self.groups), size=self.p, replace=False)
        parts = []
        for g in chosen:
            members = self.groups[g]
            parts.append(self.rng.choice(members, size=self.k, replace=len(members) < self.k))
        if self.singletons and len(self.single):
            parts.append(self.rng.choice(self.single, size=self.singletons,
                                         replace=len(self.single) < self.singletons))
        return np.concatenate(parts)


def _batches(faces: FaceSet, labels: np.ndarray, teacher: np.ndarray | None,
             sampler: PKSampler, config: TrainConfig, rng: np.random.Generator, steps: int):
    """Augmented batches, prepared on a background thread while the model trains."""
    out: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()

    def work() -> None:
        try:
            for _ in range(steps):
                if stop.is_set():
                    return
                idx = sampler.batch()
                x = np.stack([augment_crop(faces.crops[i], rng, config.augment) for i in idx])
                t = teacher[idx] if teacher is not None else np.zeros((len(idx), 1), np.float32)
                out.put((x, labels[idx], t))
        except BaseException as exc:  # surfaced in the training thread
            out.put(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        for _ in range(steps):
            item = out.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


# --- the loop ---------------------------------------------------------------------------------

class Trainer:
    """Owns the encoder, the optimiser and the checkpoint folder of one training run."""

    def __init__(self, config: TrainConfig, out_dir: str | Path) -> None:
        import keras
        import tensorflow as tf

        from . import losses
        from .models import build_encoder

        self.config = config
        self.out = Path(out_dir)
        self.tf, self.keras, self.losses = tf, keras, losses
        keras.utils.set_random_seed(config.seed)
        shape = (config.input_size, config.input_size, 3)
        self.teacher = None
        if config.encoder == "dlib-resnet":
            from . import dlib_resnet

            self.encoder = dlib_resnet.build_model(rank=config.rank)
            if config.distill_weight > 0 and config.teacher == "online":
                self.teacher = dlib_resnet.build_model()
                self.teacher.trainable = False
        else:
            self.encoder = build_encoder(config.encoder, shape, config.embedding_dim)
        frozen = 0
        for layer in self.encoder.layers:
            if any(layer.name.startswith(prefix) for prefix in config.frozen):
                layer.trainable = False
                frozen += 1
        if config.frozen and not frozen:
            raise ConfigError(f"no encoder layer is named after {config.frozen}")
        self.head = None
        if config.objective == "pair":
            self.head = keras.layers.Dense(1, activation="sigmoid", name="pair_head")
            self.head.build((None, config.embedding_dim))
        self.optimizer = None
        self.epoch = 0
        self.history: list[dict] = []

    # Trainable variables of the encoder and, for the pair objective, its classifier head.
    def _variables(self) -> list:
        variables = list(self.encoder.trainable_variables)
        if self.head is not None:
            variables += list(self.head.trainable_variables)
        return variables

    def _build_optimizer(self, steps_per_epoch: int) -> None:
        keras = self.keras
        c = self.config
        total = max(1, c.epochs * steps_per_epoch)
        warmup = int(c.warmup_epochs * steps_per_epoch)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=c.learning_rate / 10, decay_steps=max(1, total - warmup),
            alpha=0.01, warmup_target=c.learning_rate, warmup_steps=warmup)
        self.optimizer = keras.optimizers.AdamW(learning_rate=schedule,
                                                weight_decay=c.weight_decay)
        self.optimizer.build(self._variables())

    def _metric_loss(self, e, y):
        tf, losses, c = self.tf, self.losses, self.config
        if c.objective == "triplet":
            if c.mining == "batch-hard":
                return losses.batch_hard_triplet_loss(e, y, c.margin)
            return losses.semi_hard_triplet_loss(e, y, c.margin)

        # Contrastive and pair objectives use every pair inside the batch, with the same-person
        # and different-person pairs weighted equally (there are far more of the latter).
        n = tf.shape(e)[0]
        i, j = tf.meshgrid(tf.range(n), tf.range(n), indexing="ij")
        upper = i < j
        ii, jj = tf.boolean_mask(i, upper), tf.boolean_mask(j, upper)
        a, b = tf.gather(e, ii), tf.gather(e, jj)
        same = tf.cast(tf.equal(tf.gather(y, ii), tf.gather(y, jj)), tf.float32)
        weights = same / tf.maximum(tf.reduce_sum(same), 1.0) + \
            (1.0 - same) / tf.maximum(tf.reduce_sum(1.0 - same), 1.0)
        if c.objective == "contrastive":
            d = tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(a - b), axis=1), 1e-7))
            per_pair = same * tf.square(d) + (1 - same) * tf.square(tf.maximum(c.margin - d, 0))
        else:
            p = tf.squeeze(self.head(tf.abs(a - b)), axis=1)
            p = tf.clip_by_value(p, 1e-7, 1 - 1e-7)
            per_pair = -(same * tf.math.log(p) + (1 - same) * tf.math.log(1 - p))
        return tf.reduce_sum(weights * per_pair) / 2.0

    def _make_step(self):
        tf, c = self.tf, self.config

        learn_norm = c.norm == "batch"

        @tf.function(reduce_retracing=True)
        def step(x, y, t):
            if self.teacher is not None:
                t = self.teacher(x, training=False)
            with tf.GradientTape() as tape:
                e = self.encoder(x, training=learn_norm)
                metric = self._metric_loss(e, y)
                loss = c.metric_weight * metric
                distill = tf.constant(0.0)
                if c.distill_weight > 0:
                    # Match the teacher's embedding, and its similarities between the faces
                    # of the batch: the second term carries the teacher's sense of who
                    # resembles whom, which generalises to people never seen in training.
                    direct = tf.reduce_mean(tf.reduce_sum(tf.square(e - t), axis=1))
                    relational = tf.reduce_mean(tf.square(
                        tf.matmul(e, e, transpose_b=True) - tf.matmul(t, t, transpose_b=True)))
                    distill = direct + c.relational_weight * relational
                    loss = loss + c.distill_weight * distill
            variables = self._variables()
            grads = tape.gradient(loss, variables)
            self.optimizer.apply_gradients(zip(grads, variables))
            return loss, metric, distill

        return step

    # --- checkpoints --------------------------------------------------------------------------

    def _checkpoint_paths(self) -> tuple[Path, Path, Path]:
        return (self.out / "checkpoint.weights.h5", self.out / "checkpoint-optimizer.npz",
                self.out / "checkpoint.json")

    def save_checkpoint(self, rng_state: dict) -> None:
        weights, opt, state = self._checkpoint_paths()
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = weights.with_name("tmp-" + weights.name)
        self.encoder.save_weights(tmp)
        tmp.replace(weights)
        values = {f"v{i}": v.numpy() for i, v in enumerate(self.optimizer.variables)}
        if self.head is not None:
            values.update({f"h{i}": v.numpy() for i, v in enumerate(self.head.weights)})
        tmp_opt = opt.with_name("tmp-" + opt.name)
        np.savez(tmp_opt, **values)
        tmp_opt.replace(opt)
        tmp_state = state.with_name("tmp-" + state.name)
        tmp_state.write_text(json.dumps({"epoch": self.epoch, "history": self.history,
                                         "rng": rng_state}, indent=1))
        tmp_state.replace(state)

    def load_checkpoint(self) -> dict | None:
        weights, opt, state = self._checkpoint_paths()
        if not (weights.is_file() and opt.is_file() and state.is_file()):
            return None
        self.encoder.load_weights(weights)
        saved = np.load(opt)
        for i, v in enumerate(self.optimizer.variables):
            v.assign(saved[f"v{i}"])
        if self.head is not None:
            for i, v in enumerate(self.head.weights):
                v.assign(saved[f"h{i}"])
        info = json.loads(state.read_text())
        self.epoch = int(info["epoch"])
        self.history = info["history"]
        log.info("resumed from %s after epoch %d", self.out, self.epoch)
        return info["rng"]

    # --- run ----------------------------------------------------------------------------------

    def fit(self, faces: FaceSet, teacher: np.ndarray | None, resume: bool = True,
            steps_per_epoch: int | None = None) -> None:
        from tqdm import tqdm

        c = self.config
        _, labels = np.unique(faces.identities, return_inverse=True)
        labels = labels.astype(np.int32)
        steps = steps_per_epoch or max(1, len(faces) // c.batch_size)
        self._build_optimizer(steps)
        rng = np.random.default_rng(c.seed)
        rng_state = self.load_checkpoint() if resume else None
        if rng_state is not None:
            rng.bit_generator.state = rng_state
        sampler = PKSampler(labels, c.identities_per_batch, c.images_per_identity,
                            c.singletons_per_batch, rng)
        step = self._make_step()
        tf = self.tf

        while self.epoch < c.epochs:
            started = time.time()
            totals = np.zeros(3)
            bar = tqdm(_batches(faces, labels, teacher, sampler, c, rng, steps), total=steps,
                       desc=f"epoch {self.epoch + 1}/{c.epochs}", unit="batch")
            for n, (x, y, t) in enumerate(bar, start=1):
                values = step(tf.constant(x, tf.float32), tf.constant(y), tf.constant(t))
                totals += [float(v) for v in values]
                if not np.isfinite(totals[0]):
                    raise FloatingPointError(f"loss became {totals[0]} in epoch {self.epoch + 1}"
                                             f" step {n}; lower the learning rate")
                bar.set_postfix(loss=f"{totals[0] / n:.4f}", metric=f"{totals[1] / n:.4f}",
                                distill=f"{totals[2] / n:.4f}")
            self.epoch += 1
            record = {"epoch": self.epoch, "loss": totals[0] / steps,
                      "metric": totals[1] / steps, "distill": totals[2] / steps,
                      "seconds": round(time.time() - started, 1)}
            if c.evaluate_epochs:
                pairs = holdout_evaluation(self.encoder, c)["pairs"]
                record.update(holdout_accuracy=pairs["accuracy"], holdout_auc=pairs["auc"])
                log.info("epoch %d: held-out LFW accuracy %.4f, AUC %.4f", self.epoch,
                         pairs["accuracy"], pairs["auc"])
            self.history.append(record)
            self.save_checkpoint(rng.bit_generator.state)
            log.info("epoch %d: loss %.4f (%.0f s)", self.epoch, totals[0] / steps,
                     time.time() - started)


# --- a whole run: train, evaluate on held-out people, export ---------------------------------

def _embed_with(encoder, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    out = [np.asarray(encoder(crops[i:i + batch].astype(np.float32), training=False))
           for i in range(0, len(crops), batch)]
    e = np.concatenate(out)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def stranger_cosine(encoder, faces: FaceSet, seed: int = 0, sample: int = 2000) -> float:
    """Mean cosine similarity of two different people's faces, over a sample of ``faces``."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.permutation(len(faces))[:sample])
    e = _embed_with(encoder, faces.crops[pick])
    ids = faces.identities[pick]
    scores = e @ e.T
    different = ids[:, None] != ids[None, :]
    return float(scores[different].mean())


def holdout_evaluation(encoder, config: TrainConfig, out_dir: Path | None = None,
                       offset: float = 0.0) -> dict:
    """Metrics on the LFW pairs of the held-out folds, and on every pair of their images.
    Scores are calibrated with ``offset`` (see ``embed.calibrate``)."""
    from ..embed import calibrate
    from .data import read_lfw_pairs
    from .evaluate import evaluate_scores, identity_scores, pair_scores

    lfw = next(s for s in config.datasets if s.name == "lfw")
    faces = cached_faceset(lfw.path, lfw.name, config.cache_dir, lfw.pick, config.input_size,
                           layout=config.layout)
    faces = faces.subset(np.isin(faces.identities, list(held_out_identities(config))))
    pairs = [p for p in read_lfw_pairs(config.pairs_file) if p[3] in config.holdout_folds]
    embeddings = _embed_with(encoder, faces.crops)
    by_path = dict(zip(faces.paths.astype(str), embeddings))
    scores, same, folds = pair_scores(by_path, pairs)
    pairs_metrics = evaluate_scores(calibrate(scores, offset), same, folds, out_dir,
                                    f"LFW folds {config.holdout_folds}")

    id_scores, id_same = identity_scores(embeddings, faces.identities)
    ident_metrics = evaluate_scores(calibrate(id_scores, offset), id_same, None)
    return {"pairs": pairs_metrics, "identities": ident_metrics,
            "no_face": int(faces.whole[np.isin(faces.paths, [p[0] for p in pairs] +
                                                [p[1] for p in pairs])].sum())}


def run(config: TrainConfig, out_dir: str | Path, resume: bool = True,
        export_to: str | Path | None = None) -> dict:
    """Train per ``config`` into ``out_dir`` (checkpoints, metrics), then export the weights."""
    import datetime

    from .export import export_weights

    out = Path(out_dir)
    started = time.time()
    faces, teacher = load_training_faces(config)
    trainer = Trainer(config, out)
    trainer.fit(faces, teacher, resume=resume)
    train_seconds = sum(h["seconds"] for h in trainer.history)

    offset = stranger_cosine(trainer.encoder, faces, config.seed) if config.calibrate else 0.0
    evaluation = holdout_evaluation(trainer.encoder, config, out, offset)
    (out / "metrics.json").write_text(json.dumps(evaluation, indent=2))
    pairs = evaluation["pairs"]
    strict = evaluation["identities"]["threshold_at_far"]["0.001"]
    score = "cosine similarity of the unit-length embeddings; higher means more alike"
    if offset:
        score = ("(cosine similarity - score_offset) / (1 - score_offset): 0 for the "
                 "average two strangers, 1 for identical faces")
    manifest = {
        "architecture": config.encoder + (f" (rank {config.rank})" if config.rank else ""),
        "input_size": config.input_size,
        "embedding_dim": config.embedding_dim,
        "layout": config.layout,
        "input": "aligned RGB crop, pixel values 0..255 (the model rescales them itself)",
        "score": score,
        "score_offset": round(float(offset), 6),
        "trained": datetime.date.today().isoformat(),
        "recipe": dataclasses.asdict(config),
        "training_images": int(len(faces)),
        "training_identities": int(len(np.unique(faces.identities))),
        "loss": (f"{config.objective} ({config.mining}, margin {config.margin})"
                 + (f" + distillation from the dlib ResNet teacher (weight "
                    f"{config.distill_weight}, relational {config.relational_weight})"
                    if config.distill_weight > 0 else "")),
        "training_seconds": round(train_seconds, 1),
        "evaluation": {
            "protocol": (f"LFW pairs of folds {config.holdout_folds}, whose identities took no "
                         f"part in training; accuracy with each fold's threshold chosen on the "
                         f"other folds"),
            **evaluation,
        },
        "default_threshold": "best",
        "thresholds": {
            "best": {"value": pairs["threshold"],
                     "chosen": "best accuracy on all held-out LFW pairs (for tracking)"},
        },
    }
    if strict is not None:
        manifest["thresholds"]["strict"] = {
            "value": strict,
            "chosen": "false-accept rate 1e-3 over every pair of the held-out LFW images "
                      "(for doors)"}
    if config.encoder == "dlib-resnet":
        manifest["initialised_from"] = (
            "the dlib ResNet face embedder (dlib_face_recognition_resnet_model_v1.dat of "
            "face_recognition_models, public domain), converted by livesiam.training."
            "dlib_resnet" + (f"; its 256-channel 3x3 convolutions factorised to rank "
                             f"{config.rank} by SVD" if config.rank else ""))
    if config.float16_tflite:
        manifest["tflite_weights"] = "float16 (computed in float32)"
    export_weights(trainer.encoder, export_to or out / "weights", manifest,
                   float16=config.float16_tflite)
    log.info("run finished in %.0f s: LFW held-out accuracy %.4f", time.time() - started,
             pairs["accuracy"])
    return manifest
