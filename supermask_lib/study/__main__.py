"""``python -m supermask_lib.study`` runs the seeds' study, as it did before the package was split."""

from supermask_lib.study.seeds import main

main()
