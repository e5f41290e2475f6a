"""``python -m supermask_lib.report`` builds the report, as it did before the package was split."""

from supermask_lib.report.pipeline import main

main()
