"""Policy packs bundled with Kontor, copied into a deployment's policies/ to be reviewed."""

from pathlib import Path

DEFAULT_PACK = Path(__file__).resolve().parent / "default.yaml"
DEFAULT_PACK_TESTS = Path(__file__).resolve().parent / "default_test.yaml"
