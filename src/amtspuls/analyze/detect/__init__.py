"""Early warning: signals scored minute by minute against a seasonal baseline
(docs/fruehwarnung.md). `runner.run_detect` for a date range, `runner.Stream` for the
live stream, `evaluate.evaluate_detect` against a ground truth."""
