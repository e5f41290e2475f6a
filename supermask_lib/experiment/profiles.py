"""A profile, ``params/<name>-<dataset>.yaml``, read and validated in one place.

Every entry point (the CLI, the report, the study, the literature runs, the
benchmarks) loads its parameter files through :meth:`Profile.load`, so a
file means the same everywhere and is refused by the same rules:

* an experiment profile is a flat mapping of ``ExperimentConfig`` fields;
* a study profile adds ``seeds`` (at least two);
* a comparison profile has ``base`` (shared fields) and ``variants`` (name:
  the fields that differ), each variant optionally naming the published
  number it is compared with (``compare_with``); with ``seeds`` it is a
  study of each variant (:mod:`supermask_lib.study.scale`);
* any of them may name a published ``recipe`` (:mod:`supermask_lib.recipes`),
  whose fields the others override.

A file named after a dataset (``quick-mnist.yaml``) must train that dataset.
The notebooks receive the validated configurations
(:meth:`Profile.notebook_parameters`), never the raw YAML.
"""

import ast
import dataclasses
import types
from pathlib import Path

from supermask_lib import checks, recipes
from supermask_lib.experiment import yamlfiles
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.data import check_seed
from supermask_lib.experiment.datasets import DATASETS

STUDY_KEYS = ("seeds",)
VARIANT_KEYS = ("compare_with",)  # a variant's published counterpart (supermask_lib.study.literature.PUBLISHED)


def check_seeds(seeds, label="seeds", at_least=2):
    """At least ``at_least`` distinct seeds (a study needs two: one gives no interval)."""
    allowed = f"a list of at least {at_least} distinct seed{'s' if at_least > 1 else ''}"
    if not isinstance(seeds, (list, tuple)) or len(seeds) < at_least:
        checks.fail(label, seeds, allowed)
    seeds = tuple(check_seed(seed, f"{label}[{i}]") for i, seed in enumerate(seeds))
    if len(set(seeds)) != len(seeds):
        checks.fail(label, seeds, allowed)
    return seeds


@dataclasses.dataclass(frozen=True)
class Profile:
    """What a parameter file means: its configurations (one per variant), its seeds, its comparisons."""

    name: str
    dataset: str                # the file name's second part: a dataset, or a comparison's name ("estimators")
    path: Path
    configs: dict               # variant name (None for a single experiment) -> ExperimentConfig
    seeds: tuple | None = None  # a study profile's seeds
    compare_with: dict = dataclasses.field(default_factory=dict)  # variant -> its published number's key

    @classmethod
    def load(cls, params_dir, name, dataset, *, data_dir=None, overrides=None):
        """Read, check and expand ``params_dir/<name>-<dataset>.yaml``.

        ``overrides`` (field: value) replace the file's fields, as the CLI's
        ``--set`` does; ``data_dir`` says where the data are (not part of the
        runs' identity). Every error names the file.
        """
        path = Path(params_dir) / f"{name}-{dataset}.yaml"
        source = str(path) + (f" with {overrides}" if overrides else "")
        try:
            return cls._load(name, dataset, path, read_profile_file(path, params_dir), source, data_dir, overrides)
        except ValueError as err:
            if str(path) in str(err):
                raise
            raise ValueError(f"{source}: {err}") from err

    @classmethod
    def _load(cls, name, dataset, path, values, source, data_dir, overrides):
        seeds = values.pop("seeds", None)
        if seeds is not None:
            seeds = check_seeds(seeds, f"{source}: seeds")
        location = {} if data_dir is None else {"data_dir": str(data_dir)}
        if "variants" in values or "base" in values:
            if overrides:
                raise ValueError(f"{source}: a comparison profile (base and variants) takes no overrides.")
            configs, compare_with = _variants(values, source, location)
            if seeds is not None:  # a study over variants (the width axis): each variant at the first seed
                configs = {name: config.replace(seed=seeds[0]) for name, config in configs.items()}
        else:
            values.update(overrides or {})
            if seeds is not None and "seed" not in (overrides or {}):
                values["seed"] = seeds[0]
            expanded = recipes.expand({**values, **location}, f"{source}: recipe")
            configs, compare_with = {None: ExperimentConfig.from_dict(expanded, source=source)}, {}
        if dataset in DATASETS:
            for variant, config in configs.items():
                if config.dataset != dataset:
                    where = "" if variant is None else f" (variant {variant!r})"
                    raise ValueError(f"{source}{where} says dataset={config.dataset!r}, but its name says "
                                     f"{dataset!r}; a profile file trains the dataset it is named after.")
        return cls(name, dataset, path, configs, seeds, compare_with)

    @property
    def config(self):
        """The one configuration of an experiment or study profile (an error for a comparison profile)."""
        if list(self.configs) != [None]:
            raise ValueError(f"{self.path} is a comparison profile with variants {sorted(self.configs)}, not one "
                             "experiment; run its variants with the command made for it (the report, "
                             "`python -m supermask_lib.study.literature`).")
        return self.configs[None]

    def notebook_parameters(self):
        """The validated configuration(s) as papermill parameters: every field, recipes expanded."""
        if list(self.configs) == [None]:
            return self.config.to_dict()
        return {"base": {}, "variants": {name: config.to_dict() for name, config in self.configs.items()}}


def read_profile_file(path, params_dir=None):
    """A profile file's mapping, or an error naming the file (and the profiles there are, if it is missing)."""
    path = Path(path)
    if not path.is_file():
        folder = Path(params_dir) if params_dir is not None else path.parent
        available = sorted({p.stem.rsplit("-", 1)[0] for p in folder.glob("*-*.yaml")})
        name = path.stem.rsplit("-", 1)[0]
        raise ValueError(f"profile {name!r} has no file {path}; available profiles: {available}.")
    return yamlfiles.read_yaml(path)  # duplicated keys, syntax errors and non-mappings name the file and line


def _variants(values, source, location):
    extra = sorted(set(values) - {"base", "variants"})
    if extra or not isinstance(values.get("variants"), dict) or not values["variants"]:
        raise ValueError(f"{source}: a comparison profile holds 'base' and a non-empty 'variants' "
                         f"mapping only (found {sorted(values)}).")
    configs, compare_with = {}, {}
    for name, variant in values["variants"].items():
        label = f"{source} (variant {name!r})"
        if not isinstance(variant, dict):
            raise ValueError(f"{label}: a variant is a mapping of the fields that differ, not {variant!r}.")
        variant = dict(variant)
        if variant.get("compare_with") is not None:
            compare_with[name] = variant.pop("compare_with")
        variant.pop("compare_with", None)
        merged = recipes.expand({**values.get("base", {}), **variant, **location}, f"{label}: recipe")
        configs[name] = ExperimentConfig.from_dict(merged, source=label)
    return configs, compare_with


def profile_configs(values, source, data_dir=None):
    """The configurations a profile mapping means, ``{variant or None: ExperimentConfig}`` (for notebooks,
    whose parameters are such a mapping); files go through :meth:`Profile.load`."""
    location = {} if data_dir is None else {"data_dir": str(data_dir)}
    if "variants" in values or "base" in values:
        return _variants(dict(values), source, location)[0]
    return {None: ExperimentConfig.from_dict(recipes.expand({**values, **location}, f"{source}: recipe"),
                                             source=source)}


def notebook_config(namespace, extras=()):
    """The experiment notebook's configuration from its globals, by the rules of a profile file.

    Every field by name; any other parameter (``extras`` aside, the
    notebook's own) is an error naming it. A ``recipe`` (papermill
    ``-f`` with a profile that names one) is expanded as in a file: its
    fields replace the parameters cell's defaults, and the parameters
    papermill injected beside it override the recipe.
    """
    fields = ExperimentConfig.field_names()
    check_parameters(namespace, [*fields, "recipe", *extras])
    values = {name: namespace[name] for name in fields if name in namespace}
    if namespace.get("recipe") is not None:
        injected = injected_parameters(namespace.get("In", ()))
        recipe = recipes.recipe_fields(namespace["recipe"], "notebook parameter recipe")
        values = {**values, **recipe, **{name: values[name] for name in injected if name in values}}
    return ExperimentConfig.from_dict(values, source="notebook parameters")


def injected_parameters(sources):
    """The names papermill's injected-parameters cell assigned (IPython keeps each cell's source in ``In``)."""
    names = set()
    for source in sources:
        if source.lstrip().startswith("# Parameters"):
            names |= {target.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
                      for target in node.targets if isinstance(target, ast.Name)}
    return names


def check_parameters(namespace, allowed):
    """A notebook's data globals (its parameters, papermill's injected ones) must all be ``allowed``.

    Papermill injects parameters as globals and only *warns* about names the
    parameters cell lacks; here such a name stops the notebook before any work.
    """
    names = {name for name, value in namespace.items()
             if not name.startswith("_") and not _is_code(value) and name not in _IPYTHON_NAMES}
    unknown = sorted(names - set(allowed))
    if unknown:
        raise ValueError(f"Unknown notebook parameters {unknown}; allowed: {sorted(allowed)}.")


_IPYTHON_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "display"}


def _is_code(value):
    return isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type))
